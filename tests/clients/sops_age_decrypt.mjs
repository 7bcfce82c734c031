// Decrypts a SOPS file with npm's sops-age (an independent implementation, not the Go sops):
// argv: FILE AGE_KEY_FILE. Prints the decrypted document as JSON.
import { readFileSync } from "node:fs";
import { decryptSops } from "sops-age";

const [file, keyFile] = process.argv.slice(2);
const secretKey = readFileSync(keyFile, "utf8")
  .split("\n")
  .find((l) => l.startsWith("AGE-SECRET-KEY-"));
const doc = await decryptSops(readFileSync(file, "utf8"), { secretKey, fileType: "yaml" });
process.stdout.write(JSON.stringify(doc));
