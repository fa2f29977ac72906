"""The cell's OPC UA server (asyncua): address space, security, methods."""
