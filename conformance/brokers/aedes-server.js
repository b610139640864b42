// aedes (MQTT 3.1 and 3.1.1 only) as the conformance suite runs it: one plain TCP listener on
// loopback, anonymous clients (no authenticate handler), aedes's defaults otherwise, including its
// in-memory persistence (sessions, retained messages and wills live while it runs).
// conformance/expected/aedes.json records its outcomes with this script.
//
// aedes is not installed in the repository; point NODE_PATH at the node_modules that has it
// (see conformance/brokers/README.md):
//   NODE_PATH=/tmp/brokers/aedes/node_modules node conformance/brokers/aedes-server.js [PORT]
// The port is the first argument, else AEDES_PORT, else 18832.
'use strict'

const net = require('node:net')
const { pathToFileURL } = require('node:url')

async function main () {
  // aedes is an ES module: find it the CommonJS way (NODE_PATH, then the script's and the
  // working directory's node_modules), then import it.
  const entry = require.resolve('aedes', { paths: [...module.paths, process.cwd()] })
  const { Aedes } = await import(pathToFileURL(entry).href)

  const port = Number(process.argv[2] || process.env.AEDES_PORT || 18832)
  const broker = await Aedes.createBroker()
  const server = net.createServer(broker.handle)

  server.listen(port, '127.0.0.1', () => {
    console.log(`aedes listening on 127.0.0.1:${port}`)
  })

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      server.close()
      broker.close(() => process.exit(0))
    })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
