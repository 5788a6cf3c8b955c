// The reference Node.js relay for comparisons: socket.io 4.8 with its defaults (permessage-deflate
// is off by default in socket.io 4), on 127.0.0.1:PORT (argv[2]).
//   "join" (room, ack)  the socket joins the room
//   "msg"  (room, body) the body goes to the other members of the room as "msg"
// It prints {"event": "listening", "port": PORT} once it accepts connections.

import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const http = createServer();
const io = new Server(http, { transports: ["websocket"] });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("msg", (room, body) => {
    socket.to(room).emit("msg", body);
  });
});

http.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ event: "listening", port }) + "\n");
});
process.on("SIGTERM", () => process.exit(0));
