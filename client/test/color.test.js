import assert from "node:assert/strict";
import { test } from "node:test";
import { accentColors, contrast, DARK_BG, LIGHT_BG, parseColor, readableOn } from "../src/color.js";

test("contrast ratios as WCAG 2 defines them", () => {
  assert.equal(contrast("#000000", "#ffffff"), 21);
  assert.equal(contrast("#777777", "#777777"), 1);
  assert.ok(Math.abs(contrast("#767676", "#ffffff") - 4.54) < 0.01); // the lightest grey at AA on white
});

test("text on the shop's colour is white on a dark colour, near-black on a light one", () => {
  assert.equal(accentColors("#1f5fbf").onAccent, "#ffffff");
  assert.equal(accentColors("#ffd400").onAccent, "#111111");
  assert.equal(accentColors("#7fffd4").onAccent, "#111111");
});

test("the colour as text is darkened or lightened until it reads on each background", () => {
  for (const accent of ["#1f5fbf", "#ffd400", "#7fffd4", "#000000", "#ffffff", "#e60000", "#0a6c4e"]) {
    const { textLight, textDark } = accentColors(accent);
    assert.ok(contrast(textLight, LIGHT_BG) >= 4.5, `${accent} on light: ${textLight}`);
    assert.ok(contrast(textDark, DARK_BG) >= 4.5, `${accent} on dark: ${textDark}`);
  }
  // A colour that already reads is kept as it is.
  assert.equal(readableOn("#1f5fbf", LIGHT_BG), "#1f5fbf");
});

test("only hex colours of 3 or 6 digits are taken", () => {
  assert.equal(parseColor("#ABCDEF"), "#abcdef");
  assert.equal(parseColor("#abc"), "#aabbcc");
  for (const bad of ["abc", "#ab", "#abcd", "blue", "var(--x)", null, undefined]) assert.equal(parseColor(bad), null);
});
