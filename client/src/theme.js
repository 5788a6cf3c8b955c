// The widget's colours, light and dark (following prefers-color-scheme), as custom properties on
// the shadow root's host: every sheet of the widget (launcher, panel, help, co-browse) draws with
// them. The shop's colour comes in through --chatserver-accent and the colours the loader
// derives from it for contrast (color.js): text on it, and it as text on either background.

export const THEME_CSS = `
:host {
  color-scheme: light;
  --accent: var(--chatserver-accent, #1f5fbf);
  --on-accent: var(--chatserver-on-accent, #fff);
  --accent-text: var(--chatserver-accent-text, var(--chatserver-accent, #1f5fbf));
  --bg: #fff; --fg: #1d1d1f; --fg-2: #3a3a3c; --muted: #636366;
  --field: #fff; --bubble: #f0f0f3; --subtle: #f5f5f7; --line: #e5e5ea; --line-2: #d2d2d7; --border: #8e8e93;
  --danger: #b00020; --invalid: #c4001a; --notice-bg: #eef3ff; --notice-fg: #1b2f66; --drop-bg: #f4f7fd;
  --banner-bg: #fff4d6; --banner-fg: #5c4400; --offline-bg: #fde2e1; --offline-fg: #7a1712;
  --avatar-bg: #d1d1d6; --avatar-fg: #1c1c1e;
}
@media (prefers-color-scheme: dark) {
  :host {
    color-scheme: dark;
    --accent-text: var(--chatserver-accent-text-dark, #8ab4f8);
    --bg: #1c1c1e; --fg: #f2f2f7; --fg-2: #d1d1d6; --muted: #a1a1a6;
    --field: #2c2c2e; --bubble: #2c2c2e; --subtle: #2c2c2e; --line: #3a3a3c; --line-2: #48484a; --border: #8e8e93;
    --danger: #ff8a80; --invalid: #ff6b6b; --notice-bg: #1d2a4a; --notice-fg: #cfdcff; --drop-bg: #1d2a4a;
    --banner-bg: #3d3200; --banner-fg: #ffe08a; --offline-bg: #4a1512; --offline-fg: #ffc9c5;
    --avatar-bg: #48484a; --avatar-fg: #f2f2f7;
  }
}
`;
