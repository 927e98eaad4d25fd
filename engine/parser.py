"""The BPMN parser: SpiffArena's extensions plus the Camunda Modeler attributes we support."""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.control import BpmnStartTask, SimpleBpmnTask, StartEventJoin, _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, SpiffProcessParser
from SpiffWorkflow.spiff.parser.task_spec import (
    BusinessRuleTaskParser,
    ServiceTaskParser,
    SpiffTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, ServiceTask, TransactionSubprocess, UserTask
from SpiffWorkflow.spiff.specs.defaults import SubWorkflowTask as SpiffSubWorkflowTask

from .dialects import BPMN_NS, CAMUNDA_NS, camunda_task_attributes, form_data_schema, value_to_python


class AtriumUserTaskParser(UserTaskParser):
    """Keeps Camunda assignment attributes and a generated `camunda:formData` schema in the extensions."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        if node is None or node is self.node:
            camunda = camunda_task_attributes(self.node)
            if camunda:
                extensions["camunda"] = camunda
            schema = form_data_schema(self.node, self.node.get("name"))
            if schema is not None:
                extensions["generatedForm"] = schema
        return extensions


class AtriumServiceTaskParser(ServiceTaskParser):
    """Accepts `spiffworkflow:serviceTaskOperator` or Camunda's external task (`camunda:topic`)."""

    def create_task(self):
        extensions = self.parse_extensions()
        if "serviceTaskOperator" in extensions:
            return super().create_task()
        topic = self.node.get(f"{{{CAMUNDA_NS}}}topic")
        if self.node.get(f"{{{CAMUNDA_NS}}}type") != "external" or not topic:
            raise ValidationException(
                'a service task needs a spiffworkflow:serviceTaskOperator, or camunda:type="external" '
                "with camunda:topic naming a registered handler",
                node=self.node,
                file_name=self.filename,
            )
        params = {
            p.get("name"): {"value": value_to_python(p.text), "type": "any"}
            for p in self.node.findall(
                f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}inputOutput/{{{CAMUNDA_NS}}}inputParameter"
            )
        }
        return self.spec_class(
            self.spec,
            self.bpmn_id,
            operation_name=topic,
            operation_params=params,
            result_variable=self.node.get(f"{{{CAMUNDA_NS}}}resultVariable"),
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


class AtriumBusinessRuleTaskParser(BusinessRuleTaskParser):
    """`spiffworkflow:calledDecisionId` or Camunda's `camunda:decisionRef`."""

    @staticmethod
    def get_decision_ref(node):
        return BusinessRuleTaskParser.get_decision_ref(node) or node.get(f"{{{CAMUNDA_NS}}}decisionRef")


class AtriumSubWorkflowParser(SpiffTaskParser):
    """An embedded or event sub-process. Unlike SpiffWorkflow's parser it needs no end event (BPMN 2.0
    10.3.6: a path without one ends where its last element does; the sub-process completes when no token
    is left, see `end_open_paths`), and `triggeredByEvent="false"` is an ordinary sub-process."""

    def create_task(self):
        starts = self.xpath("./bpmn:startEvent")
        if len(starts) != 1:
            self.raise_validation_exception(f"a sub-process needs exactly one start event (it has {len(starts)})")
        self.process_parser.parser.create_parser(self.node, filename=self.filename, lane=self.lane)
        self.process_parser.parser.process_parsers[self.bpmn_id].parent = self.process_parser
        extensions = self.parse_extensions()
        event_triggered = self.attribute("triggeredByEvent") == "true"
        spec_class = self.EVENT_SUBPROCESS_CLASS if event_triggered else self.spec_class
        return spec_class(
            self.spec,
            self.bpmn_id,
            subworkflow_spec=self.bpmn_id,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


def end_open_paths(spec) -> None:
    """Connect every element that has no outgoing sequence flow (and is not an end event) to the
    process's end, as BPMN 2.0 specifies (10.5.3: an activity without outgoing flows is an implicit
    end). The end waits until no token is left anywhere in the process, so the process (or
    sub-process) completes when its last path does, as with end events."""
    for task_spec in list(spec.task_specs.values()):
        if task_spec.outputs or not task_spec.inputs:
            continue  # not a dead end, or not on a path (an event sub-process waiting for its trigger)
        if isinstance(task_spec, (BpmnStartTask, _EndJoin, SimpleBpmnTask, StartEventJoin, EndEvent)):
            continue
        task_spec.connect(spec.end)


class AtriumProcessParser(SpiffProcessParser):
    def _parse(self):
        super()._parse()
        end_open_paths(self.spec)


class AtriumParser(SpiffBpmnParser):
    PROCESS_PARSER_CLASS = AtriumProcessParser
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (AtriumUserTaskParser, UserTask),
        full_tag("serviceTask"): (AtriumServiceTaskParser, ServiceTask),
        full_tag("businessRuleTask"): (AtriumBusinessRuleTaskParser, BusinessRuleTask),
        full_tag("subProcess"): (AtriumSubWorkflowParser, SpiffSubWorkflowTask),
        full_tag("transaction"): (AtriumSubWorkflowParser, TransactionSubprocess),
    }
    _split_parsers: dict = {}

    def _get_parser_class(self, tag):
        """Every element may have several outgoing sequence flows: without conditions they are an implicit
        parallel split (BPMN 2.0 10.5.1), which SpiffWorkflow runs as it runs a task with several
        outputs, each getting a token. Conditions on flows out of a non-gateway are refused before parsing
        (engine.definitions)."""
        parser_class, spec_class = super()._get_parser_class(tag)
        if parser_class is None or parser_class.handles_multiple_outgoing is not TaskParser.handles_multiple_outgoing:
            return parser_class, spec_class
        split = self._split_parsers.get(parser_class)
        if split is None:
            split = self._split_parsers[parser_class] = type(
                parser_class.__name__, (parser_class,), {"handles_multiple_outgoing": lambda self: True}
            )
        return split, spec_class

    def __init__(self):
        # XSD validation runs separately (engine.definitions) so every error is reported, not just the first.
        super().__init__(validator=None)
