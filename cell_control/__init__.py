"""PackML machine, sequencer, OPC UA and Modbus servers, record store, reports and the CLI."""

__version__ = "0.1.0"
