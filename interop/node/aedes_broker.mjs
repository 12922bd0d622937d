// The aedes broker as the interop matrix runs it: node aedes_broker.mjs PORT
//
// Strategy: one aedes instance (in-memory persistence) served over TCP on 127.0.0.1 only.
// aedes has no WebSocket server of its own (its users pick one and pipe it in), so none is
// served here: chapter 6 would judge that glue, not aedes.  One line with the version is
// printed when listening.
// An authorizePublish hook refuses DENIED_TOPIC (and $SYS/, as aedes does by default) so the
// authorisation cases have a topic to aim at; aedes then closes the connection
// (MQTT-3.3.5-2).  SIGTERM / SIGINT close the listeners and the broker, then exit (bounded).
import { readFileSync } from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { Aedes } from 'aedes'

const HOST = '127.0.0.1'
const DENIED_TOPIC = 'denied/topic'

function portArg (text, what) {
  const port = Number(text)
  if (!Number.isInteger(port) || port <= 0 || port >= 65536) {
    console.error(`usage: node aedes_broker.mjs PORT (bad ${what}: ${text})`)
    process.exit(2)
  }
  return port
}

function listen (server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

async function main () {
  const args = process.argv.slice(2)
  if (args.length !== 1) portArg(undefined, 'arguments')
  const port = portArg(args[0], 'PORT')
  const aedesPackage = new URL('./node_modules/aedes/package.json', import.meta.url)
  const version = JSON.parse(readFileSync(aedesPackage, 'utf8')).version

  const broker = await Aedes.createBroker()
  broker.authorizePublish = (client, packet, callback) => {
    if (packet.topic === DENIED_TOPIC) return callback(new Error(`${DENIED_TOPIC} is denied`))
    if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topic is reserved'))
    callback(null)
  }
  broker.on('clientError', (client, err) => console.log(`client error ${client.id}: ${err.message}`))
  broker.on('connectionError', (client, err) => console.log(`connection error: ${err.message}`))

  const servers = []
  const tcpServer = createNetServer(broker.handle)
  await listen(tcpServer, port)
  servers.push(tcpServer)
  console.log(`aedes ${version} listening on ${HOST}:${port}`)

  const stop = (signal) => {
    console.log(`aedes stopping on ${signal}`)
    setTimeout(() => process.exit(0), 2000).unref()
    for (const server of servers) {
      server.close()
      if (server.closeAllConnections) server.closeAllConnections()
    }
    broker.close(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

main().catch((err) => {
  console.error(`aedes could not start: ${err.message}`)
  process.exit(1)
})
