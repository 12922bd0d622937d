"""The reference broker: a deliberately simple MQTT 3.1 / 3.1.1 / 5.0 broker written from the
spec, on top of `mqttspec`.  (Its modules land with the reference broker work.)"""
