"""The process engine: loads BPMN with SpiffWorkflow, runs steps, persists them through storage/."""
