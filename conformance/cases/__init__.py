"""The conformance cases, one module per area of the spec (connect, publish, subscribe, ...).
Each module only declares cases with `conformance.case.case`; the pytest plugin collects them."""
