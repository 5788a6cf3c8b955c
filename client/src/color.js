// The shop's colour (data-color, docs/widget.md) and the colours drawn on it or from it, chosen
// for contrast (WCAG 2 relative luminance): text on the colour, and the colour as text on the
// panel's light and dark backgrounds.

// The panel's backgrounds in the light and the dark scheme (theme.js).
export const LIGHT_BG = "#ffffff";
export const DARK_BG = "#1c1c1e";
const DARK_TEXT = "#111111";
const LIGHT_TEXT = "#ffffff";
// WCAG AA for normal text.
const AA = 4.5;

/** "#abc" or "#aabbcc" (any case) to "#aabbcc"; anything else (names, rgb(), url(...)) to null. */
export function parseColor(value) {
  const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value ?? "").trim());
  if (!match) return null;
  const hex = match[1].length === 3 ? [...match[1]].map((c) => c + c).join("") : match[1];
  return `#${hex.toLowerCase()}`;
}

function channels(color) {
  return [1, 3, 5].map((i) => Number.parseInt(color.slice(i, i + 2), 16));
}

function luminance(color) {
  const [r, g, b] = channels(color).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The contrast ratio of two "#rrggbb" colours, from 1 to 21. */
export function contrast(a, b) {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high + 0.05) / (low + 0.05);
}

function mix(color, toward, amount) {
  const from = channels(color);
  const to = channels(toward);
  return `#${from.map((c, i) => Math.round(c + (to[i] - c) * amount).toString(16).padStart(2, "0")).join("")}`;
}

/** The colour, darkened or lightened (toward black or white) just enough to read on ``background``. */
export function readableOn(color, background) {
  const toward = luminance(background) > 0.5 ? "#000000" : "#ffffff";
  for (let step = 0; step <= 20; step += 1) {
    const candidate = mix(color, toward, step / 20);
    if (contrast(candidate, background) >= AA) return candidate;
  }
  return toward;
}

/**
 * The widget's colours for the shop's ``accent``: text on it (white or near-black, whichever
 * reads better), and the accent as text or outline on the light and the dark panel.
 */
export function accentColors(accent) {
  return {
    accent,
    onAccent: contrast(accent, LIGHT_TEXT) >= contrast(accent, DARK_TEXT) ? LIGHT_TEXT : DARK_TEXT,
    textLight: readableOn(accent, LIGHT_BG),
    textDark: readableOn(accent, DARK_BG),
  };
}
