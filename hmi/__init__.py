"""Streamlit operator HMI: a client of the cell controller (OPC UA and the store)."""
