// One MQTT.js client connection, driven by the client-interop scenarios (interop/clients/).
//
//   node mqttjs_client.js --version            prints the mqtt package version and exits
//   node mqttjs_client.js '<connect JSON>'     connects, then obeys JSON commands on stdin
//
// Strategy: this process is one client role of a scenario; the Python side tells it what to
// do and reads what happened.  The connect JSON gives the address, protocol level (3, 4, 5),
// client ID, clean flag, Session Expiry Interval, Will and a time limit.  Commands arrive one
// JSON object per stdin line, each with an `id`: {"op": "subscribe", "filter", "qos"},
// {"op": "publish", "topic", "payload" (hex), "qos", "retain", "properties"} and
// {"op": "disconnect"}.  Everything that happens is printed as one JSON object per stdout
// line: "connected", "subscribed" (granted QoS), "published", "message" (topic, QoS, RETAIN,
// DUP, payload in hex, MQTT 5 properties), "error", "closed".  Payloads and Correlation Data
// travel as hex so any bytes survive.  Automatic reconnection is off (a lost connection ends
// the role); the process exits by itself when its time limit runs out or stdin closes.
'use strict'

const mqtt = require('mqtt')

function emit (event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

if (process.argv[2] === '--version') {
  emit({ event: 'version', version: require('mqtt/package.json').version })
  process.exit(0)
}

let config
try {
  config = JSON.parse(process.argv[2] || '')
} catch (err) {
  process.stderr.write(`usage: node mqttjs_client.js '<connect JSON>' (${err.message})\n`)
  process.exit(2)
}

const limit = setTimeout(() => {
  emit({ event: 'error', message: `time limit of ${config.limit} s ran out` })
  process.exit(3)
}, (config.limit || 30) * 1000)
limit.unref()

// MQTT 5 publish properties: our JSON shape <-> MQTT.js's.  MQTT.js keeps User Properties
// in an object (name -> value or list of values), so pairs come back grouped by name.
function toMqttjsProperties (props) {
  const out = {}
  if (!props) return out
  if (props.user_properties) {
    out.userProperties = {}
    for (const [name, value] of props.user_properties) {
      const known = out.userProperties[name]
      if (known === undefined) out.userProperties[name] = value
      else if (Array.isArray(known)) known.push(value)
      else out.userProperties[name] = [known, value]
    }
  }
  if (props.content_type != null) out.contentType = props.content_type
  if (props.response_topic != null) out.responseTopic = props.response_topic
  if (props.correlation_data != null) {
    out.correlationData = Buffer.from(props.correlation_data, 'hex')
  }
  if (props.message_expiry_interval != null) {
    out.messageExpiryInterval = props.message_expiry_interval
  }
  if (props.payload_format_indicator != null) {
    out.payloadFormatIndicator = props.payload_format_indicator === 1
  }
  return out
}

function fromMqttjsProperties (props) {
  const out = {}
  if (!props) return out
  if (props.userProperties) {
    out.user_properties = []
    for (const [name, value] of Object.entries(props.userProperties)) {
      for (const v of (Array.isArray(value) ? value : [value])) out.user_properties.push([name, v])
    }
  }
  if (props.contentType !== undefined) out.content_type = props.contentType
  if (props.responseTopic !== undefined) out.response_topic = props.responseTopic
  if (props.correlationData !== undefined) {
    out.correlation_data = Buffer.from(props.correlationData).toString('hex')
  }
  if (props.messageExpiryInterval !== undefined) {
    out.message_expiry_interval = props.messageExpiryInterval
  }
  if (props.payloadFormatIndicator !== undefined) {
    out.payload_format_indicator = props.payloadFormatIndicator ? 1 : 0
  }
  return out
}

const options = {
  clientId: config.client_id,
  protocolVersion: config.level,
  protocolId: config.level === 3 ? 'MQIsdp' : 'MQTT',
  clean: config.clean !== false,
  keepalive: 60,
  reconnectPeriod: 0,
  connectTimeout: (config.limit || 30) * 1000
}
if (config.level === 5 && config.session_expiry != null) {
  options.properties = { sessionExpiryInterval: config.session_expiry }
}
if (config.will) {
  options.will = {
    topic: config.will.topic,
    payload: Buffer.from(config.will.payload, 'hex'),
    qos: config.will.qos,
    retain: Boolean(config.will.retain)
  }
}

const client = mqtt.connect(`mqtt://${config.host}:${config.port}`, options)
let closing = false

client.on('connect', (connack) => {
  emit({ event: 'connected', session_present: Boolean(connack.sessionPresent),
         code: connack.reasonCode !== undefined ? connack.reasonCode : connack.returnCode })
})
client.on('message', (topic, payload, packet) => {
  emit({ event: 'message', topic, qos: packet.qos, retain: Boolean(packet.retain),
         dup: Boolean(packet.dup), payload: Buffer.from(payload).toString('hex'),
         properties: fromMqttjsProperties(packet.properties) })
})
client.on('error', (err) => emit({ event: 'error', message: String(err.message || err) }))
client.on('close', () => {
  emit({ event: 'closed', clean: closing })
  if (!closing) process.exit(1)
})

function run (command) {
  const id = command.id
  const fail = (err) => emit({ event: 'error', id, message: String(err.message || err) })
  if (command.op === 'subscribe') {
    client.subscribe(command.filter, { qos: command.qos }, (err, granted) => {
      if (err) return fail(err)
      emit({ event: 'subscribed', id, granted: granted.map((g) => g.qos) })
    })
  } else if (command.op === 'publish') {
    const opts = { qos: command.qos, retain: Boolean(command.retain) }
    if (config.level === 5) opts.properties = toMqttjsProperties(command.properties)
    client.publish(command.topic, Buffer.from(command.payload, 'hex'), opts, (err) => {
      if (err) return fail(err)
      emit({ event: 'published', id })
    })
  } else if (command.op === 'disconnect') {
    closing = true
    client.end(false, {}, () => {
      emit({ event: 'disconnected', id })
      process.exit(0)
    })
  } else {
    fail(new Error(`unknown op ${command.op}`))
  }
}

let pending = ''
process.stdin.on('data', (chunk) => {
  pending += chunk.toString('utf8')
  let newline
  while ((newline = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, newline)
    pending = pending.slice(newline + 1)
    if (!line.trim()) continue
    try {
      run(JSON.parse(line))
    } catch (err) {
      emit({ event: 'error', message: `bad command: ${err.message}` })
    }
  }
})
process.stdin.on('end', () => process.exit(closing ? 0 : 4))
