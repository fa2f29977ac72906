"""The cell's OPC UA methods behind each HMI command, and failures in words for the operator."""

from __future__ import annotations

import asyncio
from typing import Any

from cell_control.opcua.names import CellNodes
from hmi.model import Command, CommandKind

_PACKML_METHOD = {
    CommandKind.START: "Start",
    CommandKind.STOP: "Stop",
    CommandKind.RESET: "Reset",
    CommandKind.HOLD: "Hold",
    CommandKind.UNHOLD: "Unhold",
    CommandKind.SUSPEND: "Suspend",
    CommandKind.UNSUSPEND: "Unsuspend",
    CommandKind.ABORT: "Abort",
    CommandKind.CLEAR: "Clear",
}


def explain(exc: BaseException, connecting: bool = False) -> str:
    """A sentence for the operator from an asyncua/socket failure."""
    name = type(exc).__name__
    text = str(exc) or name
    if connecting and name == "BadUserAccessDenied":
        # ActivateSession answers this when the user name or password does not match
        return "The cell rejected this user name or password."
    if name in ("BadUserAccessDenied",):
        return "The cell refused: your role may not do this (BadUserAccessDenied)."
    if name in ("BadIdentityTokenRejected", "BadIdentityTokenInvalid", "BadUserSignatureInvalid"):
        return "The cell rejected this user name or password."
    if "Certificate" in name or "SecurityChecks" in name:
        return (
            f"The cell does not trust the HMI's certificate ({name}). On the cell run "
            "`ironcell certs trust <HMI's IRONCELL_HOME>/pki/clients/hmi/cert.der`, then wait for the reconnect."
        )
    if name == "BadInvalidState":
        return "The cell refused the command in its current state."
    if name in ("BadInvalidArgument", "BadTypeMismatch"):
        return f"The cell refused the arguments ({name})."
    if isinstance(exc, ConnectionError | OSError | asyncio.TimeoutError | TimeoutError):
        return f"cannot reach the cell: {text}"
    return f"{name}: {text}"


async def call(client: Any, nodes: CellNodes, command: Command) -> None:
    from asyncua import ua

    kind = command.kind
    if kind in _PACKML_METHOD:
        parent = client.get_node(nodes.state_machine)
        await parent.call_method(ua.NodeId.from_string(nodes.command_method(_PACKML_METHOD[kind])))
    elif kind is CommandKind.RESET_PROTECTIVE_STOP:
        await client.get_node(nodes.robot).call_method(ua.NodeId.from_string(nodes.reset_protective_stop))
    elif kind is CommandKind.UNSHELVE:
        await client.get_node(nodes.alarms).call_method(
            ua.NodeId.from_string(nodes.unshelve_alarm), ua.Variant(int(command.alarm_id), ua.VariantType.UInt32)
        )
    elif kind in (CommandKind.ACKNOWLEDGE, CommandKind.SHELVE):
        method = nodes.acknowledge_alarm if kind is CommandKind.ACKNOWLEDGE else nodes.shelve_alarm
        await client.get_node(nodes.alarms).call_method(
            ua.NodeId.from_string(method),
            ua.Variant(int(command.alarm_id), ua.VariantType.UInt32),
            ua.Variant(command.reason, ua.VariantType.String),
        )
    else:
        raise ValueError(f"no OPC UA method for {kind}")
