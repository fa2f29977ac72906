"""The cell's Modbus TCP server for the line PLC (pymodbus)."""
