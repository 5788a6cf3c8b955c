// The chat panel's styles, scoped by the shadow root: the shop's CSS does not reach in, these do
// not leak out. Colours come from theme.js (light and dark); the shop's colour and corner from
// the script tag (data-color, data-position: docs/widget.md).

export const PANEL_CSS = `
[hidden] { display: none !important; }
.panel {
  position: fixed; inset-inline-end: 20px; bottom: 92px; z-index: 2147483000;
  width: 370px; max-width: calc(100vw - 40px); height: 560px; max-height: calc(100vh - 120px);
  display: flex; flex-direction: column; box-sizing: border-box;
  background: var(--bg); color: var(--fg); border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0, 0, 0, .22), 0 0 0 1px rgba(0, 0, 0, .06);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.panel *, .panel *::before, .panel *::after { box-sizing: border-box; }
.header {
  display: flex; align-items: center; gap: 8px; padding: 12px 14px;
  background: var(--accent); color: var(--on-accent);
}
.header .heading { flex: 1; min-width: 0; }
h2 { margin: 0; font-size: 16px; font-weight: 650; }
.subtitle { margin: 2px 0 0; font-size: 13px; opacity: .92; overflow-wrap: anywhere; }
.icon-button {
  flex: none; width: 36px; height: 36px; border: 0; border-radius: 8px; padding: 0;
  background: transparent; color: inherit; font: inherit; font-size: 22px; line-height: 1; cursor: pointer;
}
.icon-button:hover { background: rgba(255, 255, 255, .18); }
/* Two tones, so that one of them stands out on any colour (the shop's, light or dark): 3:1. */
:focus-visible { outline: 3px solid #1d1d1f; outline-offset: 2px; box-shadow: 0 0 0 2px #ffbf47; }
.banner { margin: 0; padding: 8px 14px; font-size: 13px; background: var(--banner-bg); color: var(--banner-fg); }
.banner:empty { display: none; }
.banner.offline { background: var(--offline-bg); color: var(--offline-fg); }
.screen { flex: 1; min-height: 0; display: flex; flex-direction: column; }
.scroll { flex: 1; min-height: 0; overflow-y: auto; padding: 14px; }
.status-line { margin: 0 0 10px; font-size: 14px; color: var(--fg-2); }
.notice {
  margin: 0 0 12px; padding: 10px 12px; border-radius: 8px;
  background: var(--notice-bg); color: var(--notice-fg); font-size: 14px;
}
form { margin: 0; }
.field { display: flex; flex-direction: column; gap: 4px; margin-bottom: 12px; }
label, legend { font-size: 14px; font-weight: 600; color: var(--fg); }
.optional { font-weight: 400; color: var(--muted); }
input, textarea {
  width: 100%; font: inherit; color: inherit; padding: 8px 10px;
  border: 1px solid var(--border); border-radius: 8px; background: var(--field);
}
textarea { resize: vertical; min-height: 64px; }
input[aria-invalid="true"], textarea[aria-invalid="true"] { border-color: var(--invalid); }
.problem { margin: 2px 0 0; color: var(--danger); font-size: 13px; }
.problem:empty { display: none; }
.privacy { margin: 0 0 12px; font-size: 13px; color: var(--fg-2); }
.privacy a { color: var(--accent-text); }
.button {
  display: inline-flex; align-items: center; justify-content: center; gap: 6px;
  min-height: 40px; padding: 8px 16px; border-radius: 8px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--on-accent); font: inherit; font-weight: 600; cursor: pointer;
}
.button.secondary { background: var(--bg); color: var(--accent-text); border-color: var(--accent-text); }
.button:disabled { opacity: .55; cursor: not-allowed; }
.messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.message { max-width: 85%; display: flex; flex-direction: column; gap: 2px; }
.message .who { font-size: 12px; color: var(--muted); }
.message .body {
  margin: 0; padding: 8px 12px; border-radius: 12px; background: var(--bubble);
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.message.visitor { align-self: flex-end; align-items: flex-end; }
.message.agent { display: grid; grid-template-columns: 28px minmax(0, auto); column-gap: 8px; row-gap: 2px; }
.message.agent > * { grid-column: 2; }
.message.agent > .avatar { grid-column: 1; grid-row: 1 / span 2; align-self: end; }
.avatar {
  width: 28px; height: 28px; border-radius: 50%; overflow: hidden; display: inline-flex; align-items: center;
  justify-content: center; background: var(--avatar-bg); color: var(--avatar-fg); font-size: 11px; font-weight: 600; flex: none;
}
.avatar img { width: 100%; height: 100%; object-fit: cover; display: block; }
.message.visitor .body { background: var(--accent); color: var(--on-accent); }
.message .body a { color: inherit; text-decoration: underline; overflow-wrap: anywhere; }
.message.system { align-self: center; max-width: 100%; }
.message.system .body { background: none; padding: 0; font-size: 13px; color: var(--muted); text-align: center; }
.message .state { font-size: 12px; color: var(--muted); }
.message.failed .state { color: var(--danger); }
.message .retry { border: 0; padding: 0; background: none; color: var(--accent-text); font: inherit; text-decoration: underline; cursor: pointer; }
.typing { margin: 0; padding: 0 14px 6px; font-size: 13px; color: var(--muted); font-style: italic; min-height: 1.45em; }
.composer { border-top: 1px solid var(--line); padding: 10px 14px 12px; }
.composer .row { display: flex; gap: 8px; align-items: flex-end; }
.composer textarea { min-height: 44px; max-height: 140px; }
.composer .tools { display: flex; justify-content: space-between; align-items: center; margin-top: 6px; }
.attach-button {
  flex: none; width: 40px; height: 44px; padding: 0; border: 1px solid var(--border); border-radius: 8px;
  display: inline-flex; align-items: center; justify-content: center; background: var(--field); color: var(--fg-2); cursor: pointer;
}
.attach-button svg { width: 20px; height: 20px; }
.attach-button:disabled { opacity: .55; cursor: not-allowed; }
.uploads { list-style: none; margin: 0 0 8px; padding: 0; display: flex; flex-direction: column; gap: 6px; }
.upload { display: grid; grid-template-columns: 1fr auto; gap: 2px 8px; align-items: center; font-size: 13px; }
.upload-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.upload progress { grid-column: 1; width: 100%; height: 8px; accent-color: var(--accent); }
.upload-cancel { grid-column: 2; grid-row: 1 / span 2; border: 0; background: none; color: var(--accent-text); font: inherit; text-decoration: underline; cursor: pointer; }
.screen.dropping { outline: 3px dashed var(--accent); outline-offset: -6px; background: var(--drop-bg); }
.message .file-body { display: flex; flex-direction: column; gap: 4px; }
.file-link { display: inline-flex; flex-direction: column; gap: 4px; color: inherit; text-decoration: underline; }
.file-link:not(.image) { flex-direction: row; align-items: center; }
.file-link img { display: block; max-width: min(220px, 100%); max-height: 220px; height: auto; object-fit: contain; border-radius: 8px; background: #fff; }
.file-icon { flex: none; width: 18px; height: 18px; }
.file-name { font-size: 13px; overflow-wrap: anywhere; }
.file-problem { font-size: 12px; }
.file-problem:empty { display: none; }
.counter { font-size: 12px; color: var(--muted); }
.counter.over { color: var(--danger); font-weight: 600; }
.link-button { border: 0; padding: 4px 0; background: none; color: var(--danger); font: inherit; font-size: 13px; cursor: pointer; text-decoration: underline; }
.link-button.plain { color: var(--accent-text); }
.notice p { margin: 0 0 6px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; }
.confirm { margin-top: 8px; padding: 10px 12px; border-radius: 8px; background: var(--subtle); }
.confirm p { margin: 0 0 8px; font-weight: 600; }
h3 { margin: 16px 0 8px; font-size: 15px; }
.tickets { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 10px; }
.ticket { border: 1px solid var(--line); border-radius: 10px; padding: 8px 10px; }
.ticket .who { margin: 0 0 2px; font-size: 12px; color: var(--muted); }
.ticket .body { margin: 0 0 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.earlier { margin-bottom: 8px; }
.earlier-list { list-style: none; margin: 0; padding: 0; }
.earlier-list .link-button { text-align: start; overflow-wrap: anywhere; }
.past .messages { margin: 8px 0; }
.past-summary { margin: 0; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.ticket .answer { border-inline-start: 3px solid var(--accent-text); padding-inline-start: 8px; }
.ended { margin-top: 14px; padding-top: 12px; border-top: 1px solid var(--line); display: flex; flex-direction: column; align-items: flex-start; gap: 10px; }
.ended form, .ended .notice { align-self: stretch; }
.transcript-to { margin: 6px 0 0; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.stars { border: 0; margin: 0 0 12px; padding: 0; }
.stars .options { display: flex; gap: 6px; margin-top: 6px; }
.stars input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.stars label {
  width: 44px; height: 44px; display: inline-flex; align-items: center; justify-content: center;
  border: 1px solid var(--border); border-radius: 8px; font-size: 16px; cursor: pointer;
}
.stars input:checked + label { background: var(--accent); color: var(--on-accent); border-color: var(--accent); }
.stars input:focus-visible + label { outline: 3px solid #1d1d1f; outline-offset: 2px; box-shadow: 0 0 0 2px #ffbf47; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
:host([data-position="left"]) .panel { inset-inline: auto; left: 20px; }
:host([data-position="right"]) .panel { inset-inline: auto; right: 20px; }
@media (max-width: 480px) {
  .panel, :host([data-position]) .panel { inset: 0; width: 100%; max-width: none; height: 100%; max-height: none; border-radius: 0; }
}
@media (prefers-reduced-motion: no-preference) {
  .panel { animation: chatserver-in .16s ease-out; }
  @keyframes chatserver-in { from { opacity: 0; transform: translateY(8px); } }
}
`;
