// npm runs its scripts with node_modules/.bin first on PATH, so `node` here is the
// runtime from the `node` dev dependency, not the machine's. Say which one runs the
// suite, and refuse an unsupported one rather than fail obscurely later.
const [major] = process.versions.node.split('.').map(Number);
console.log(`periscope: running on Node.js ${process.version} (${process.execPath})`);
if (major < 22) {
  console.error('periscope supports Node.js 22 and 24; run `npm install` so the bundled runtime is used.');
  process.exit(1);
}
