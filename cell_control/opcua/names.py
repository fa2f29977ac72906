"""The OPC UA address-space contract of the cell: namespace, browse paths and string NodeIds.

Clients (the HMI, SCADA, tests) address nodes directly by these string NodeIds in the cell's own
namespace. Resolve the namespace index by URI (`client.get_namespace_index(NAMESPACE_URI)`); the
server registers it first, so it is 2 in practice.

Structure and names follow the companion specifications without importing their nodesets:

```
Objects/Machines/<cell>/                          (OPC 40001 Machinery: one machine per cell)
  Identification/  Manufacturer, Model, SerialNumber, ProductInstanceUri, SoftwareRevision,
                   YearOfConstruction, ComponentName, Location
  PackML/                                         (OPC 30050 PackML)
    Status/  StateCurrent (Int32, PackML state number), StateCurrentText, UnitModeCurrent,
             CurMachSpeed (parts/min), StateChangedAt, LastCommandResult
    Admin/   ProdProcessedCount, ProdDefectiveCount (NOK), ProdReviewCount, ProdOkCount,
             AccTimeSinceReset (s), LastCycleTime (s)
    BaseStateMachine/  methods Reset, Start, Stop, Hold, Unhold, Suspend, Unsuspend, Abort, Clear
                       (no arguments) and SetCommand(Command Int32) -> ()
  XrayStation/                                    (OPC 40100 Machine Vision)
    VisionStateMachine/CurrentState
    AutomaticMode/StartSingleJob(PartId String, RecipeId String) -> JobId String
    ResultManagement/GetResultById(ResultId String) -> Result String (JSON, see RESULT_JSON_KEYS)
    ResultManagement/LastResult/  JobId, PartId, RecipeId, Verdict, FlawCount, ImageSha256,
                                  ResultState, ProcessingTime (ms), Defects (JSON), CreationTime
  Robot/                                          (OPC 40010 Robotics naming, monitoring)
    JointPositions (Double[] rad), TcpPose (Double[7]: x, y, z m, qw, qx, qy, qz), Mode (String,
    robot.types.RobotMode), ContactForce (Double N), ProtectiveStop (Boolean), CurrentTaskId,
    LastTaskOutcome, TasksCompleted, Interventions, CameraImage (ByteString: PNG of the robot's rendered
    view when the driver renders one; empty otherwise)
    DispatchPickPlace(PartId String, Target String) -> TaskId String   (our own: 40010 has none)
    ResetProtectiveStop() -> ()
  Alarms/
    ActiveAlarms (String: JSON list, see ALARM_JSON_KEYS), ActiveAlarmCount (UInt32),
    UnacknowledgedCount (UInt32)
    AcknowledgeAlarm(AlarmId UInt32, Comment String) -> ()
    ShelveAlarm(AlarmId UInt32, Reason String) -> ()
    UnshelveAlarm(AlarmId UInt32) -> ()
```

Events are emitted by the cell object (`<cell>`, EventNotifier set) and by the Server object:
`IroncellAlarmEventType` (an alarm changed state) and `InspectionResultEventType` (OPC 40100's result
ready), both subtypes of BaseEventType with the extra fields named in EVENT_FIELDS.

Method calls by a user whose role does not allow the action answer BadUserAccessDenied; bad
arguments answer BadInvalidArgument (wrong value) or BadTypeMismatch; a command PackML refuses in the
current state answers BadInvalidState and the reason goes to Status/LastCommandResult.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_URI = "urn:ironcell:opcua:cell"
NAMESPACE_INDEX = 2  # what the server registers it as; prefer resolving by URI
MACHINES_FOLDER = "Machines"  # Objects/Machines (OPC 40001)

IDENTIFICATION_VARS = (
    "Manufacturer",
    "Model",
    "SerialNumber",
    "ProductInstanceUri",
    "SoftwareRevision",
    "YearOfConstruction",
    "ComponentName",
    "Location",
)

PACKML_COMMAND_METHODS = ("Reset", "Start", "Stop", "Hold", "Unhold", "Suspend", "Unsuspend", "Abort", "Clear")

RESULT_JSON_KEYS = (
    "job_id",
    "part_id",
    "recipe_id",
    "verdict",
    "flaw_count",
    "defects",
    "image_sha256",
    "latency_ms",
    "model_versions",
    "error",
    "finished_at",
)
ALARM_JSON_KEYS = ("id", "code", "message", "severity", "state", "raised_at", "changed_at", "part_serial", "user")

ALARM_EVENT_TYPE = "IroncellAlarmEventType"
RESULT_EVENT_TYPE = "InspectionResultEventType"
EVENT_FIELDS = {
    ALARM_EVENT_TYPE: ("AlarmId", "AlarmCode", "AlarmState", "PartId"),
    RESULT_EVENT_TYPE: ("JobId", "PartId", "Verdict", "FlawCount", "ImageSha256"),
}


def node_id(cell: str, path: str, ns: int = NAMESPACE_INDEX) -> str:
    """`node_id("XrayCell1", "PackML.Status.StateCurrent")` -> `ns=2;s=XrayCell1.PackML.Status.StateCurrent`."""
    return f"ns={ns};s={cell}.{path}" if path else f"ns={ns};s={cell}"


@dataclass(frozen=True)
class CellNodes:
    """All NodeId strings of one cell. `CellNodes("XrayCell1").state_current` etc."""

    cell: str = "XrayCell1"
    ns: int = NAMESPACE_INDEX

    def nid(self, path: str) -> str:
        return node_id(self.cell, path, self.ns)

    def browse_path(self, path: str) -> list[str]:
        """Browse names from Objects down, for TranslateBrowsePathsToNodeIds ('2:Name' form)."""
        parts = [MACHINES_FOLDER, self.cell, *([p for p in path.split(".") if p] if path else [])]
        return [f"{self.ns}:{p}" for p in parts]

    # --- machine and identification (OPC 40001) ----------------------------------------------
    @property
    def machine(self) -> str:
        return self.nid("")

    @property
    def machines_folder(self) -> str:
        return f"ns={self.ns};s={MACHINES_FOLDER}"

    def identification(self, name: str) -> str:
        return self.nid(f"Identification.{name}")

    # --- PackML (OPC 30050) ------------------------------------------------------------------
    @property
    def state_current(self) -> str:
        return self.nid("PackML.Status.StateCurrent")

    @property
    def state_current_text(self) -> str:
        return self.nid("PackML.Status.StateCurrentText")

    @property
    def unit_mode_current(self) -> str:
        return self.nid("PackML.Status.UnitModeCurrent")

    @property
    def cur_mach_speed(self) -> str:
        return self.nid("PackML.Status.CurMachSpeed")

    @property
    def state_changed_at(self) -> str:
        return self.nid("PackML.Status.StateChangedAt")

    @property
    def last_command_result(self) -> str:
        return self.nid("PackML.Status.LastCommandResult")

    @property
    def processed_count(self) -> str:
        return self.nid("PackML.Admin.ProdProcessedCount")

    @property
    def defective_count(self) -> str:
        return self.nid("PackML.Admin.ProdDefectiveCount")

    @property
    def review_count(self) -> str:
        return self.nid("PackML.Admin.ProdReviewCount")

    @property
    def ok_count(self) -> str:
        return self.nid("PackML.Admin.ProdOkCount")

    @property
    def acc_time_since_reset(self) -> str:
        return self.nid("PackML.Admin.AccTimeSinceReset")

    @property
    def last_cycle_time(self) -> str:
        return self.nid("PackML.Admin.LastCycleTime")

    @property
    def state_machine(self) -> str:
        return self.nid("PackML.BaseStateMachine")

    def command_method(self, name: str) -> str:
        """One of PACKML_COMMAND_METHODS, or "SetCommand"."""
        return self.nid(f"PackML.BaseStateMachine.{name}")

    # --- X-ray station (OPC 40100) -----------------------------------------------------------
    @property
    def xray_station(self) -> str:
        return self.nid("XrayStation")

    @property
    def vision_state(self) -> str:
        return self.nid("XrayStation.VisionStateMachine.CurrentState")

    @property
    def automatic_mode(self) -> str:
        return self.nid("XrayStation.AutomaticMode")

    @property
    def start_single_job(self) -> str:
        return self.nid("XrayStation.AutomaticMode.StartSingleJob")

    @property
    def result_management(self) -> str:
        return self.nid("XrayStation.ResultManagement")

    @property
    def get_result_by_id(self) -> str:
        return self.nid("XrayStation.ResultManagement.GetResultById")

    def last_result(self, name: str) -> str:
        """JobId, PartId, RecipeId, Verdict, FlawCount, ImageSha256, ResultState, ProcessingTime, Defects,
        CreationTime."""
        return self.nid(f"XrayStation.ResultManagement.LastResult.{name}")

    # --- robot (OPC 40010 naming) ------------------------------------------------------------
    @property
    def robot(self) -> str:
        return self.nid("Robot")

    def robot_var(self, name: str) -> str:
        """JointPositions, TcpPose, Mode, ContactForce, ProtectiveStop, CurrentTaskId, LastTaskOutcome,
        TasksCompleted, Interventions, CameraImage."""
        return self.nid(f"Robot.{name}")

    @property
    def dispatch_pick_place(self) -> str:
        return self.nid("Robot.DispatchPickPlace")

    @property
    def reset_protective_stop(self) -> str:
        return self.nid("Robot.ResetProtectiveStop")

    # --- alarms --------------------------------------------------------------------------------
    @property
    def alarms(self) -> str:
        return self.nid("Alarms")

    @property
    def active_alarms(self) -> str:
        return self.nid("Alarms.ActiveAlarms")

    @property
    def active_alarm_count(self) -> str:
        return self.nid("Alarms.ActiveAlarmCount")

    @property
    def unacknowledged_count(self) -> str:
        return self.nid("Alarms.UnacknowledgedCount")

    @property
    def acknowledge_alarm(self) -> str:
        return self.nid("Alarms.AcknowledgeAlarm")

    @property
    def shelve_alarm(self) -> str:
        return self.nid("Alarms.ShelveAlarm")

    @property
    def unshelve_alarm(self) -> str:
        return self.nid("Alarms.UnshelveAlarm")

    # --- event types ---------------------------------------------------------------------------
    def event_type(self, name: str) -> str:
        """ALARM_EVENT_TYPE or RESULT_EVENT_TYPE (not under the cell: types are shared)."""
        return f"ns={self.ns};s=Types.{name}"
