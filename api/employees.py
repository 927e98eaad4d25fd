"""Employees: the firm's people, each with at most one account and a manager to escalate to."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium.employees import create_employee, employee_or_raise, update_employee
from storage.employees import Employee

from .clients import process_engine
from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("employees", __name__, url_prefix="/api/employees", description="Employees")


class EmployeeSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    position = fields.String(allow_none=True, validate=validate.Length(max=200))
    department = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    username = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the employee's account (one each)"},
    )
    manager = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "username of the manager escalations go to"},
    )
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class EmployeeArgs(PageArgs):
    department = fields.String(validate=validate.Length(max=200))
    q = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "part of the name"})


EmployeePage = page_schema(EmployeeSchema, "EmployeePage")


@blp.route("")
class Employees(MethodView):
    @requires("employees:read")
    @blp.arguments(EmployeeArgs, location="query")
    @blp.response(200, EmployeePage)
    @errors(blp, 422)
    def get(self, args):
        """List employees."""
        conditions = []
        if args.get("department"):
            conditions.append(Employee.department == args["department"])
        if args.get("q"):
            conditions.append(func.lower(Employee.name).contains(args["q"].lower(), autoescape=True))
        with process_engine().transaction() as session:
            rows, total = page_query(
                session,
                select(Employee).where(*conditions).order_by(Employee.name, Employee.id),
                select(func.count()).select_from(Employee).where(*conditions),
                args,
            )
            return envelope([row[0] for row in rows], total, args)

    @requires("employees:manage")
    @blp.arguments(EmployeeSchema)
    @blp.response(201, EmployeeSchema)
    @errors(blp, 409, 422)
    def post(self, data):
        """Add an employee."""
        with process_engine().transaction() as session:
            return create_employee(session, data, actor=g.account.username)


@blp.route("/<id:employee_id>")
class EmployeeItem(MethodView):
    @requires("employees:read")
    @blp.response(200, EmployeeSchema)
    @errors(blp, 404)
    def get(self, employee_id):
        """One employee."""
        with process_engine().transaction() as session:
            return employee_or_raise(session, employee_id)

    @requires("employees:manage")
    @blp.arguments(type("EmployeePatchSchema", (EmployeeSchema,), {})(partial=True))
    @blp.response(200, EmployeeSchema)
    @errors(blp, 404, 409, 422)
    def patch(self, data, employee_id):
        """Change some fields of an employee."""
        with process_engine().transaction() as session:
            return update_employee(session, employee_id, data, actor=g.account.username)
