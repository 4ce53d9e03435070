// Hash passwords the original's way: bcryptjs, cost 8 ("$2a$08$..."), as
// its registration did with bcrypt.hash(pass, 8). Reads a JSON list of
// passwords on stdin, writes the JSON list of hashes.
// Needs `npm install bcryptjs@2.4.3` in a folder on NODE_PATH.
const bcrypt = require("bcryptjs");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const hashes = JSON.parse(input).map((pass) => bcrypt.hashSync(pass, 8));
  process.stdout.write(JSON.stringify(hashes));
});
