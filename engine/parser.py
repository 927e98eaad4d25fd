"""The BPMN parser: SpiffArena's extensions plus the Camunda Modeler attributes we support."""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser, ServiceTaskParser, UserTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, ServiceTask, UserTask

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


class AtriumParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (AtriumUserTaskParser, UserTask),
        full_tag("serviceTask"): (AtriumServiceTaskParser, ServiceTask),
        full_tag("businessRuleTask"): (AtriumBusinessRuleTaskParser, BusinessRuleTask),
    }

    def __init__(self):
        # XSD validation runs separately (engine.definitions) so every error is reported, not just the first.
        super().__init__(validator=None)
