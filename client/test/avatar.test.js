import assert from "node:assert/strict";
import { test } from "node:test";
import { avatarSource, initials } from "../src/ui/avatar.js";

test("initials come from the first and last word of the name", () => {
  assert.equal(initials("Alice Martin"), "AM");
  assert.equal(initials("  bob  "), "B");
  assert.equal(initials("Jean-Luc de la Croix"), "JC");
  assert.equal(initials("émile zola"), "ÉZ");
  assert.equal(initials("😀 Smile"), "😀S");
  assert.equal(initials(""), "?");
  assert.equal(initials(null), "?");
});

test("an avatar's path resolves on the chat server only, its path prefix included", () => {
  assert.equal(avatarSource("/avatars/abc", "https://chat.shop.example/"), "https://chat.shop.example/avatars/abc");
  assert.equal(avatarSource("/avatars/abc", "https://shop.example/chat/"), "https://shop.example/chat/avatars/abc");
  assert.equal(avatarSource(null, "https://chat.shop.example/"), null);
  assert.equal(avatarSource("javascript:alert(1)", "https://chat.shop.example/"), null);
  assert.equal(avatarSource("https://evil.example/avatars/x", "https://chat.shop.example/"), null);
  assert.equal(avatarSource("//evil.example/avatars/x", "https://chat.shop.example/"), null);
  // Whatever follows /avatars/, the picture comes from the chat server.
  assert.ok(avatarSource("/avatars//evil.example/x", "https://chat.shop.example/").startsWith("https://chat.shop.example/"));
  assert.equal(avatarSource("/other/x", "https://chat.shop.example/"), null);
});
