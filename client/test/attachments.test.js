import assert from "node:assert/strict";
import { test } from "node:test";
import "./language.js";
import {
  allowedText, AttachmentLinks, fittedName, fileLabel, isImage, pastedName, resolveUrl, sizeText, transferredFiles, upload, UploadError,
  uploadErrorText, uploadProblem, uploadUrl,
} from "../src/ui/attachments.js";

/** XMLHttpRequest as upload() uses it; the test plays the network (respond, fail, progress). */
class FakeXHR {
  static last = null;

  constructor() {
    FakeXHR.last = this;
    this.listeners = {};
    this.headers = {};
    this.upload = { addEventListener: (name, fn) => { this.listeners[`upload:${name}`] = fn; } };
    this.aborted = false;
  }

  addEventListener(name, fn) {
    this.listeners[name] = fn;
  }

  open(method, url) {
    Object.assign(this, { method, url });
  }

  setRequestHeader(name, value) {
    this.headers[name] = value;
  }

  send(body) {
    this.body = body;
  }

  abort() {
    this.aborted = true;
    this.listeners.abort?.();
  }

  progress(loaded, total) {
    this.listeners["upload:progress"]({ lengthComputable: true, loaded, total });
  }

  respond(status, body) {
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.listeners.load();
  }
}

const fileMessage = { conversation_id: "c1", seq: 5, kind: "file", body: "invoice.pdf",
  meta: { attachment_id: "a1", name: "invoice.pdf", size: "186368", content_type: "application/pdf" } };

test("sizes read as people write them", () => {
  assert.equal(sizeText(0), "0 bytes");
  assert.equal(sizeText(1), "1 byte");
  assert.equal(sizeText(1023), "1,023 bytes");
  assert.equal(sizeText("186368"), "182 KB");
  assert.equal(sizeText(1536), "1.5 KB");
  assert.equal(sizeText(10 * 1024 * 1024), "10 MB");
  assert.equal(sizeText(2.44 * 1024 * 1024), "2.4 MB");
  assert.equal(sizeText("nonsense"), "");
  assert.equal(fileLabel(fileMessage.meta), "invoice.pdf · 182 KB");
  assert.equal(fileLabel(null, "notes.txt"), "notes.txt");
});

test("only the types the server re-encodes are images", () => {
  assert.equal(isImage({ content_type: "image/png" }), true);
  assert.equal(isImage({ content_type: "image/webp" }), true);
  assert.equal(isImage({ content_type: "image/svg+xml" }), false);
  assert.equal(isImage({ content_type: "application/pdf" }), false);
  assert.equal(isImage(null), false);
});

test("a file over the server's limit, or an empty one, is refused before sending", () => {
  const limit = 10 * 1024 * 1024;
  assert.equal(uploadProblem({ name: "a.png", size: 200 }, limit), null);
  assert.equal(uploadProblem({ name: "a.png", size: 200 }, null), null, "no limit known: the server decides");
  assert.equal(uploadProblem({ name: "big.pdf", size: limit + 1 }, limit), "“big.pdf” is too large: files can be up to 10 MB.");
  assert.equal(uploadProblem({ name: "big.pdf", size: 12 * 1024 * 1024 }, limit),
    "“big.pdf” is too large (12 MB): files can be up to 10 MB.");
  assert.equal(uploadProblem({ name: "empty.txt", size: 0 }, limit), "“empty.txt” is empty.");
});

test("refusals say what to do: the limit in MB, the types that can be sent", () => {
  assert.equal(uploadErrorText(new UploadError(413, "file_too_large", "x", { limit: 10485760 }), "big.pdf"),
    "“big.pdf” was not sent: it is too large; files can be up to 10 MB.");
  assert.match(uploadErrorText(new UploadError(415, "file_type_not_allowed", "x"), "fake.png"),
    /^“fake\.png” was not sent: this type of file can't be sent\./);
  assert.match(uploadErrorText(new UploadError(0, "network", "x"), "a.png"), /connection failed/);
  assert.equal(uploadErrorText(new UploadError(503, "busy", "x", { retry_after: 5 }), "a.png"),
    "“a.png” was not sent: the server is busy receiving other files. Try again in a few seconds.");
  assert.equal(uploadErrorText(new UploadError(415, "file_type_not_allowed", "x", { allowed: ["pdf", "png"] }), "a.exe"),
    "“a.exe” was not sent: this type of file can't be sent. Images (PNG) and PDF can.");
  assert.equal(uploadErrorText(new UploadError(415, "file_type_not_allowed", "x", { content: "pdf" }), "photo.png"),
    "“photo.png” was not sent: its name does not match what it holds (a PDF).");
  assert.equal(uploadErrorText(new UploadError(400, "invalid_payload", "The name is too long."), "a.png"),
    "“a.png” was not sent: The name is too long.");
});

test("the types the server allows are named in words", () => {
  assert.equal(allowedText(["gif", "jpeg", "pdf", "png", "text", "webp"]), "Images (PNG, JPEG, GIF, WebP), PDF and text files can.");
  assert.equal(allowedText(undefined), "Images (PNG, JPEG, GIF, WebP), PDF and text files can.");
  assert.equal(allowedText(["text"]), "Text files can.");
  assert.equal(allowedText(["pdf", "text"]), "PDF and text files can.");
});

test("the upload address carries the name and the client_msg_id, encoded", () => {
  assert.equal(uploadUrl("https://chat.example/x/", "c 1", "my invoice&.pdf", "w-1"),
    "https://chat.example/x/api/conversations/c%201/attachments?name=my+invoice%26.pdf&client_msg_id=w-1");
});

test("an upload sends the bytes with the token, reports progress and resolves with the message", async () => {
  const seen = [];
  const body = { size: 4 };
  const sending = upload({ url: "/api/u", token: "tok", body, onProgress: (f) => seen.push(f), XHR: FakeXHR });
  const xhr = FakeXHR.last;
  assert.equal(xhr.method, "POST");
  assert.equal(xhr.headers.Authorization, "Bearer tok");
  assert.equal(xhr.body, body);
  xhr.progress(1, 4);
  xhr.progress(4, 4);
  xhr.respond(201, { message: fileMessage, duplicate: false });
  assert.deepEqual((await sending.done).message, fileMessage);
  assert.deepEqual(seen, [0.25, 1, 1]);
});

test("a refused upload rejects with the server's code and details", async () => {
  const tooLarge = upload({ url: "/u", token: "t", body: {}, XHR: FakeXHR });
  FakeXHR.last.respond(413, { error: { code: "file_too_large", message: "too large", details: { limit: 1000 } } });
  await assert.rejects(tooLarge.done, (error) => error.status === 413 && error.code === "file_too_large"
    && error.details.limit === 1000);
  // A proxy's own 413 page (not JSON) still reads as too large.
  const proxy = upload({ url: "/u", token: "t", body: {}, XHR: FakeXHR });
  FakeXHR.last.respond(413, "<html>Request Entity Too Large</html>");
  await assert.rejects(proxy.done, (error) => error.code === "file_too_large");
  const lost = upload({ url: "/u", token: "t", body: {}, XHR: FakeXHR });
  FakeXHR.last.listeners.error();
  await assert.rejects(lost.done, (error) => error.code === "network");
});

test("cancel aborts the request: the upload ends as cancelled", async () => {
  const sending = upload({ url: "/u", token: "t", body: {}, XHR: FakeXHR });
  const xhr = FakeXHR.last;
  sending.cancel();
  sending.cancel();
  assert.equal(xhr.aborted, true);
  await assert.rejects(sending.done, (error) => error.code === "cancelled");
});

test("a file's link is kept until shortly before it expires, then asked for again, once at a time", async () => {
  let now = 1000;
  const asked = [];
  const links = new AttachmentLinks({
    now: () => now,
    call: async (event, payload) => {
      asked.push([event, payload]);
      return { ok: true, url: `/files/a1?sig=${asked.length}`, thumbnail_url: null, expires_at: now + 300 };
    },
  });
  assert.equal(links.current("a1"), null);
  const [first, same] = await Promise.all([links.get("c1", "a1"), links.get("c1", "a1")]);
  assert.equal(first.url, "/files/a1?sig=1");
  assert.equal(same, first, "two views asking at once share one request");
  assert.deepEqual(asked, [["attachment:link", { conversation_id: "c1", attachment_id: "a1" }]]);
  now += 200;
  assert.equal((await links.get("c1", "a1")).url, "/files/a1?sig=1", "still good");
  now += 90; // 10 s left: too little to open it
  assert.equal(links.current("a1"), null);
  assert.equal((await links.get("c1", "a1")).url, "/files/a1?sig=2");
  assert.equal((await links.get("c1", "a1", { fresh: true })).url, "/files/a1?sig=3");
});

test("a refused link request rejects and is asked again next time", async () => {
  let refuse = true;
  const links = new AttachmentLinks({
    call: async () => {
      if (refuse) throw { code: "forbidden" };
      return { url: "/files/a1?s", thumbnail_url: "/files/a1?s&size=thumb", expires_at: Date.now() / 1000 + 300 };
    },
  });
  await assert.rejects(links.get("c1", "a1"), (error) => error.code === "forbidden");
  refuse = false;
  assert.equal((await links.get("c1", "a1")).thumbnail_url, "/files/a1?s&size=thumb");
});

test("links are resolved against the server's base URL, and only http(s) ones", () => {
  assert.equal(resolveUrl("/files/a1?sig=x", "https://chat.example/"), "https://chat.example/files/a1?sig=x");
  assert.equal(resolveUrl("/files/a1?sig=x", "https://shop.example/chat/"), "https://shop.example/chat/files/a1?sig=x");
  assert.equal(resolveUrl("javascript:alert(1)", "https://chat.example/"), null);
  assert.equal(resolveUrl("", "https://chat.example/"), null);
  assert.equal(resolveUrl(null, "https://chat.example/"), null);
});

test("a paste with text is pasted as text; a screenshot (files only) is sent", () => {
  const png = { name: "image.png", type: "image/png" };
  assert.deepEqual(transferredFiles({ files: [png], types: ["Files"] }, { paste: true }), [png]);
  assert.deepEqual(transferredFiles({ files: [png], types: ["text/plain", "Files"] }, { paste: true }), []);
  assert.deepEqual(transferredFiles({ files: [png], types: ["text/plain", "Files"] }), [png], "a drop sends the files");
  assert.deepEqual(transferredFiles({ files: [], types: ["text/plain"] }, { paste: true }), []);
  assert.deepEqual(transferredFiles(null), []);
});

test("a name longer than the server takes is cut in the middle, keeping its extension", () => {
  assert.equal(fittedName(" invoice.pdf "), "invoice.pdf");
  const long = `${"é".repeat(250)}.pdf`;
  assert.equal([...fittedName(long)].length, 200);
  assert.match(fittedName(long), /^é+…\.pdf$/);
  assert.equal([...fittedName("x".repeat(300))].length, 200);
});

test("a pasted screenshot gets a name with its time; a named file keeps its name", () => {
  const at = new Date(2026, 11, 5, 9, 7, 3);
  assert.equal(pastedName({ name: "image.png", type: "image/png" }, at), "screenshot-2026-12-05-090703.png");
  assert.equal(pastedName({ name: "", type: "image/jpeg" }, at), "screenshot-2026-12-05-090703.jpg");
  assert.equal(pastedName({ name: "receipt.png", type: "image/png" }, at), "receipt.png");
  assert.equal(pastedName({ name: "notes.txt", type: "text/plain" }, at), "notes.txt");
});
