import assert from "node:assert/strict";
import { test } from "node:test";
import { isStale } from "../src/ui/session.js";

const snapshot = (status, lastSeq, id = "c1") => ({ id, status, last_seq: lastSeq });

test("a snapshot older than the one shown is stale: an ack never undoes a newer update", () => {
  // chat:start's ack ("queued", seq 2) arriving after conversation:updated ("assigned", seq 3)
  assert.equal(isStale(snapshot("assigned", 3), snapshot("queued", 2)), true);
  assert.equal(isStale(snapshot("queued", 2), snapshot("assigned", 3)), false);
  assert.equal(isStale(snapshot("assigned", 3), snapshot("assigned", 3)), false);
  assert.equal(isStale(snapshot("closed", 7), snapshot("assigned", 3, "c2")), false, "another conversation");
});
