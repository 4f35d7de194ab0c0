'use strict';

// Variants "ours" (Express 4) and "ours, Express 5": wpsAuth + requireWpsToken with a fresh token.
const { start } = require('./common');
const { buildOursApp } = require('./ours-app');

start((origin) => buildOursApp(origin, { flavor: process.argv[2] }));
