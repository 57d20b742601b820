// Prints every frame a Cutover WebSocket sends: a client nobody on the project wrote
// (Node's own WebSocket). Usage:
//   node --experimental-websocket tools/ws-watch.mjs 'ws://127.0.0.1:8080/v1/ws?since=0&access_token=...'
const url = process.argv[2];
if (!url) {
  console.error("usage: node --experimental-websocket tools/ws-watch.mjs WS_URL");
  process.exit(2);
}
const ws = new WebSocket(url);
ws.onopen = () => console.error(`connected to ${url}`);
ws.onmessage = (e) => console.log(e.data);
ws.onclose = (e) => {
  console.error(`closed: ${e.code} ${e.reason}`);
  process.exit(e.code === 1000 ? 0 : 1);
};
ws.onerror = () => console.error("connection failed (is cutover serve running? is the token valid?)");
