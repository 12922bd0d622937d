"""mqttlab: the one command-line tool of the MQTT conformance lab."""
