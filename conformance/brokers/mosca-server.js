// mosca (MQTT 3.1.1 only) as the conformance suite runs it: one plain TCP listener on
// 127.0.0.1:PORT (the first argument), anonymous clients, mosca's in-memory defaults.
// conformance/brokers/mosca installs it and sets NODE_PATH.
'use strict'

const mosca = require('mosca')

const port = Number(process.argv[2] || 18834)
const server = new mosca.Server({ host: '127.0.0.1', port })
server.on('ready', () => console.log(`mosca listening on 127.0.0.1:${port}`))
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)))
}
