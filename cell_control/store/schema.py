"""Tables of the record store. Append-only by design: a review never overwrites a verdict."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class PartRow(Base):
    __tablename__ = "parts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    family: Mapped[str] = mapped_column(String(32))
    recipe: Mapped[str] = mapped_column(String(64))
    lot: Mapped[str] = mapped_column(String(64), default="", index=True)
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ground_truth: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    inspections: Mapped[list[InspectionRow]] = relationship(back_populates="part")


class InspectionRow(Base):
    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    verdict: Mapped[str] = mapped_column(String(8), index=True)
    anomaly_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    model_versions: Mapped[dict] = mapped_column(JSON)
    image_sha256: Mapped[str] = mapped_column(String(64), default="")
    anomaly_map_sha256: Mapped[str] = mapped_column(String(64), default="")
    config_sha256: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    part: Mapped[PartRow] = relationship(back_populates="inspections")
    defects: Mapped[list[DefectRow]] = relationship(back_populates="inspection")


class DefectRow(Base):
    __tablename__ = "defects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    flaw_class: Mapped[str] = mapped_column(String(32), index=True)
    score: Mapped[float] = mapped_column(Float)
    x0_px: Mapped[float] = mapped_column(Float)
    y0_px: Mapped[float] = mapped_column(Float)
    x1_px: Mapped[float] = mapped_column(Float)
    y1_px: Mapped[float] = mapped_column(Float)
    size_mm: Mapped[float] = mapped_column(Float)
    zone: Mapped[str] = mapped_column(String(64), default="")
    rule_broken: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="detector")
    inspection: Mapped[InspectionRow] = relationship(back_populates="defects")


class ReviewRow(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)


class RobotTaskRow(Base):
    __tablename__ = "robot_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id"), nullable=True, index=True)
    task_id: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    cycle_s: Mapped[float] = mapped_column(Float)
    regrasp_count: Mapped[int] = mapped_column(Integer, default=0)
    protective_stops: Mapped[int] = mapped_column(Integer, default=0)
    max_contact_force_n: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")


class AlarmRow(Base):
    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    part_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AlarmEventRow(Base):
    __tablename__ = "alarm_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class InterventionRow(Base):
    __tablename__ = "interventions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(64), default="")
    part_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditRow(Base):
    """Who commanded what, from where (HMI, OPC UA, Modbus), and whether it was allowed."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")


Index("ix_inspections_verdict_finished", InspectionRow.verdict, InspectionRow.finished_at)
