"""Every model imported in one place, so metadata is complete for Alembic and tests."""

from .accounts import Account, RevokedToken  # noqa: F401
from .audit import AuditChainHead, AuditEntry  # noqa: F401
from .base import Base  # noqa: F401
from .billing import Invoice, InvoiceRequest, Payment, TimeEntry  # noqa: F401
from .care import CareActivity, CareDate  # noqa: F401
from .client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest  # noqa: F401
from .clients import Client, ClientIdentifier, ClientStatusChange, Contact  # noqa: F401
from .crypto import ClientKey, IndexKey  # noqa: F401
from .definitions import DecisionDefinition, Form, ProcessDefinition  # noqa: F401
from .employees import Employee  # noqa: F401
from .erasures import Erasure  # noqa: F401
from .events import Event  # noqa: F401
from .firm_settings import FirmSetting  # noqa: F401
from .health import ClientHealth, ClientHealthSnapshot  # noqa: F401
from .history import HistoryEntry  # noqa: F401
from .instances import Incident, ProcessInstance  # noqa: F401
from .integration_accounts import ApiKey, IdempotencyKey, IntegrationAccount  # noqa: F401
from .knowledge import KnowledgeArticle  # noqa: F401
from .login_throttle import LoginThrottle  # noqa: F401
from .messages import MessageSubscription  # noqa: F401
from .notifications import Notification  # noqa: F401
from .opt_outs import OptOut  # noqa: F401
from .reports import ReportRun, ReportSchedule  # noqa: F401
from .surveys import Survey  # noqa: F401
from .tasks import Task, TaskCandidate  # noqa: F401
from .timers import Timer  # noqa: F401
from .translations import Translation  # noqa: F401
from .webhooks import EventPublication, WebhookDelivery, WebhookSubscription  # noqa: F401
