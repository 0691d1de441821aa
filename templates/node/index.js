'use strict';
// cfaas node template entry point.
//
// The watchdog starts this program once per request with the request body on
// stdin; what it writes to stdout is the answer. Request headers are in
// process.env as Http_* variables (Http_Method, Http_Path, Http_Query, ...).

const handler = require('./function/handler');

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', async () => {
  try {
    const result = await handler(Buffer.concat(chunks).toString('utf8'));
    if (result === undefined || result === null) {
      return;
    }
    const out = Buffer.isBuffer(result) || typeof result === 'string'
      ? result
      : JSON.stringify(result);
    process.stdout.write(out);
  } catch (err) {
    process.stderr.write(String((err && err.stack) || err) + '\n');
    process.exitCode = 1;
  }
});
