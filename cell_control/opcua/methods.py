"""OPC UA methods of the cell: PackML commands, StartSingleJob / GetResultById (OPC 40100), robot
dispatch and protective-stop reset, alarm acknowledge / shelve. Each checks the caller's role first,
then its arguments, and answers a Bad status code instead of raising.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import Node, ua

from cell_control.alarms import AlarmError
from cell_control.cell import Cell, CellError
from cell_control.opcua.security import denied
from cell_control.types import PackMLCommand
from cell_control.users import Action
from robot.types import TargetBin
from vision.types import PartFamily

log = logging.getLogger(__name__)
VT = ua.VariantType
Bad = ua.StatusCodes

COMMAND_ACTIONS = {
    PackMLCommand.RESET: Action.RESET,
    PackMLCommand.START: Action.START,
    PackMLCommand.STOP: Action.STOP,
    PackMLCommand.HOLD: Action.HOLD,
    PackMLCommand.UNHOLD: Action.UNHOLD,
    PackMLCommand.SUSPEND: Action.SUSPEND,
    PackMLCommand.UNSUSPEND: Action.UNSUSPEND,
    PackMLCommand.ABORT: Action.ABORT,
    PackMLCommand.CLEAR: Action.CLEAR,
}
MAX_TEXT = 256


def _arg(name: str, vt: ua.VariantType, doc: str) -> ua.Argument:
    a = ua.Argument()
    a.Name = name
    a.DataType = ua.NodeId(vt.value)  # type: ignore[arg-type]
    a.ValueRank = -1
    a.ArrayDimensions = []
    a.Description = ua.LocalizedText(doc)
    return a


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(code)  # type: ignore[arg-type]


def _check_args(args: tuple[Any, ...], spec: list[tuple[str, ua.VariantType]]) -> ua.StatusCode | list[Any]:
    """Values of the arguments, or the status code saying what is wrong with them."""
    if len(args) < len(spec):
        return _status(Bad.BadArgumentsMissing)
    if len(args) > len(spec):
        return _status(Bad.BadTooManyArguments)
    values = []
    for a, (_, vt) in zip(args, spec, strict=True):
        v = a.Value if isinstance(a, ua.Variant) else a
        got = a.VariantType if isinstance(a, ua.Variant) else None
        if vt == VT.String:
            if got not in (None, VT.String) or not isinstance(v, str | type(None)):
                return _status(Bad.BadTypeMismatch)
            v = (v or "").strip()
            if len(v) > MAX_TEXT:
                return _status(Bad.BadInvalidArgument)
        elif vt in (VT.UInt32, VT.Int32):
            ints = (VT.Byte, VT.SByte, VT.Int16, VT.UInt16, VT.Int32, VT.UInt32, VT.Int64, VT.UInt64)
            if (got is not None and got not in ints) or not isinstance(v, int) or isinstance(v, bool):
                return _status(Bad.BadTypeMismatch)
        values.append(v)
    return values


class MethodHandlers:
    def __init__(self, cell: Cell, nid: Callable[[str], ua.NodeId], idx: int) -> None:
        self.cell = cell
        self.nid = nid
        self.idx = idx

    async def _add(
        self,
        parent: Node,
        path: str,
        fn: Callable[..., Awaitable[Any]],
        inputs: list[tuple[str, ua.VariantType, str]],
        outputs: list[tuple[str, ua.VariantType, str]],
    ) -> None:
        bname = path.rsplit(".", 1)[-1]
        await parent.add_method(
            self.nid(path),
            ua.QualifiedName(bname, self.idx),
            fn,
            [_arg(n, vt, d) for n, vt, d in inputs],
            [_arg(n, vt, d) for n, vt, d in outputs],
        )

    async def add_all(self, sm: Node, am: Node, rm: Node, rb: Node, al: Node) -> None:
        for cmd in PackMLCommand:
            await self._add(sm, f"PackML.BaseStateMachine.{cmd.name.capitalize()}", self._command_fn(cmd), [], [])
        await self._add(
            sm, "PackML.BaseStateMachine.SetCommand", self.set_command,
            [("Command", VT.Int32, "PackML command number 1-9 (Reset 1 ... Clear 9)")], [],
        )  # fmt: skip
        await self._add(
            am, "XrayStation.AutomaticMode.StartSingleJob", self.start_single_job,
            [("PartId", VT.String, "part serial"), ("RecipeId", VT.String, "recipe / part family, e.g. wheel")],
            [("JobId", VT.String, "id of the job; the result arrives as an event and in LastResult")],
        )  # fmt: skip
        await self._add(
            rm, "XrayStation.ResultManagement.GetResultById", self.get_result_by_id,
            [("ResultId", VT.String, "the JobId")], [("Result", VT.String, "result as JSON")],
        )  # fmt: skip
        await self._add(
            rb, "Robot.DispatchPickPlace", self.dispatch_pick_place,
            [("PartId", VT.String, "part serial"), ("Target", VT.String, "ok_conveyor | nok_bin | review_bin")],
            [("TaskId", VT.String, "id of the robot task")],
        )  # fmt: skip
        await self._add(rb, "Robot.ResetProtectiveStop", self.reset_protective_stop, [], [])
        await self._add(
            al, "Alarms.AcknowledgeAlarm", self.acknowledge_alarm,
            [("AlarmId", VT.UInt32, "alarm id"), ("Comment", VT.String, "operator comment")], [],
        )  # fmt: skip
        await self._add(
            al, "Alarms.ShelveAlarm", self.shelve_alarm,
            [("AlarmId", VT.UInt32, "alarm id"), ("Reason", VT.String, "why it is shelved")], [],
        )  # fmt: skip
        await self._add(al, "Alarms.UnshelveAlarm", self.unshelve_alarm, [("AlarmId", VT.UInt32, "alarm id")], [])

    def _refuse(self, user: str, action: str, status: ua.StatusCode, detail: str = "") -> ua.StatusCode:
        self.cell._audit(user, "opcua", action, False, detail or status.name)
        return status

    # --- PackML --------------------------------------------------------------------------------
    def _command_fn(self, cmd: PackMLCommand) -> Callable[..., Awaitable[Any]]:
        async def fn(parent: ua.NodeId, *args: Any) -> Any:
            if args:
                return _status(Bad.BadTooManyArguments)
            return self._do_command(cmd)

        return fn

    def _do_command(self, cmd: PackMLCommand) -> Any:
        user, bad = denied(COMMAND_ACTIONS[cmd])
        if bad is not None:
            return self._refuse(user, f"packml.{cmd.name.lower()}", bad)
        t = self.cell.command(cmd, user=user, channel="opcua")
        return [] if t.accepted else _status(Bad.BadInvalidState)

    async def set_command(self, parent: ua.NodeId, *args: Any) -> Any:
        vals = _check_args(args, [("Command", VT.Int32)])
        if isinstance(vals, ua.StatusCode):
            return vals
        try:
            cmd = PackMLCommand(vals[0])
        except ValueError:
            return _status(Bad.BadInvalidArgument)
        return self._do_command(cmd)

    # --- X-ray station -------------------------------------------------------------------------
    async def start_single_job(self, parent: ua.NodeId, *args: Any) -> Any:
        user, bad = denied(Action.START_JOB)
        if bad is not None:
            return self._refuse(user, "xray.start_single_job", bad)
        vals = _check_args(args, [("PartId", VT.String), ("RecipeId", VT.String)])
        if isinstance(vals, ua.StatusCode):
            return vals
        part_id, recipe = vals
        if not part_id or any(ch.isspace() for ch in part_id) or len(part_id) > 64:
            return _status(Bad.BadInvalidArgument)
        recipe = recipe or self.cell.default_recipe
        if recipe not in {f.value for f in PartFamily}:
            return _status(Bad.BadInvalidArgument)
        try:
            job_id = self.cell.submit_job(part_id, recipe, "opcua")
        except CellError as exc:
            return self._refuse(user, "xray.start_single_job", _status(Bad.BadInvalidState), str(exc))
        self.cell._audit(user, "opcua", "xray.start_single_job", True, f"{part_id} {recipe} -> {job_id}")
        return [ua.Variant(job_id, VT.String)]

    async def get_result_by_id(self, parent: ua.NodeId, *args: Any) -> Any:
        vals = _check_args(args, [("ResultId", VT.String)])
        if isinstance(vals, ua.StatusCode):
            return vals
        if not vals[0]:
            return _status(Bad.BadInvalidArgument)
        p = self.cell.results_by_job.get(vals[0])
        if p is None:
            return _status(Bad.BadNotFound)
        return [ua.Variant(json.dumps(p.as_json()), VT.String)]

    # --- robot -----------------------------------------------------------------------------------
    async def dispatch_pick_place(self, parent: ua.NodeId, *args: Any) -> Any:
        user, bad = denied(Action.DISPATCH)
        if bad is not None:
            return self._refuse(user, "robot.dispatch", bad)
        vals = _check_args(args, [("PartId", VT.String), ("Target", VT.String)])
        if isinstance(vals, ua.StatusCode):
            return vals
        part_id, target = vals
        if not part_id or target not in {t.value for t in TargetBin}:
            return _status(Bad.BadInvalidArgument)
        try:
            task_id = await self.cell.manual_dispatch(part_id, TargetBin(target), user)
        except CellError as exc:
            return self._refuse(user, "robot.dispatch", _status(Bad.BadInvalidState), str(exc))
        return [ua.Variant(task_id, VT.String)]

    async def reset_protective_stop(self, parent: ua.NodeId, *args: Any) -> Any:
        user, bad = denied(Action.RESET_PROTECTIVE_STOP)
        if bad is not None:
            return self._refuse(user, "robot.reset_protective_stop", bad)
        if args:
            return _status(Bad.BadTooManyArguments)
        why = await self.cell.reset_protective_stop(user, channel="opcua")
        if why:
            return self._refuse(user, "robot.reset_protective_stop", _status(Bad.BadInvalidState), why)
        return []

    # --- alarms ----------------------------------------------------------------------------------
    async def _alarm_op(self, action: Action, args: tuple[Any, ...], text_name: str | None) -> Any:
        user, bad = denied(action)
        name = f"alarm.{action.value}"
        if bad is not None:
            return self._refuse(user, name, bad)
        spec = [("AlarmId", VT.UInt32)] + ([(text_name, VT.String)] if text_name else [])
        vals = _check_args(args, spec)
        if isinstance(vals, ua.StatusCode):
            return vals
        alarm_id = vals[0]
        if all(a.id != alarm_id for a in self.cell.alarms.open_alarms()):
            return _status(Bad.BadInvalidArgument)
        try:
            if action == Action.ACKNOWLEDGE:
                self.cell.alarms.acknowledge(alarm_id, user, vals[1])
            elif text_name:
                self.cell.alarms.shelve(alarm_id, user, vals[1])
            else:
                self.cell.alarms.unshelve(alarm_id, user)
        except AlarmError as exc:
            return self._refuse(user, name, _status(Bad.BadInvalidState), str(exc))
        self.cell._audit(user, "opcua", name, True, f"alarm {alarm_id}")
        return []

    async def acknowledge_alarm(self, parent: ua.NodeId, *args: Any) -> Any:
        return await self._alarm_op(Action.ACKNOWLEDGE, args, "Comment")

    async def shelve_alarm(self, parent: ua.NodeId, *args: Any) -> Any:
        return await self._alarm_op(Action.SHELVE, args, "Reason")

    async def unshelve_alarm(self, parent: ua.NodeId, *args: Any) -> Any:
        return await self._alarm_op(Action.SHELVE, args, None)
