"""Broker profiles, the interoperability matrix and report rendering.  (Its modules land with
the interop matrix work.)"""
