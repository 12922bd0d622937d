"""Generators, network engine, oracles and findings of the MQTT fuzzer.  (Its modules land with
the fuzzer work.)"""
