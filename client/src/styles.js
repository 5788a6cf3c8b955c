// Puts CSS into a shadow root as a constructed stylesheet, which a shop's Content-Security-Policy
// does not block (a <style> element would need style-src 'unsafe-inline'); <style> only where
// constructed stylesheets are missing.

export function adoptStyles(root, css) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  } catch {
    const style = document.createElement("style");
    style.textContent = css;
    root.prepend(style);
  }
}
