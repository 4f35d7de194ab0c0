'use strict';

// Starts the marketplace example: `npm run start:isv`, or `node examples/isv/server.js` after `npm run build`.
const { createApp } = require('./app');

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}

createApp({ port }).then(
  ({ url, fake, close }) => {
    console.log(`express-wps-oauth marketplace example: open ${url} (${fake ? 'demo mode, fake WPS' : 'real WPS'})`);
    const stop = () => close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (err) => {
    console.error(`Could not start the example: ${err.message}`);
    process.exit(1);
  },
);
