// The one form renderer for task forms and start forms: @rjsf/antd over the server's localized
// JSON Schema and UI schema, validated in the browser (if/then included) before the server
// validates again; the server's 422 messages appear next to their fields.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { useMemo, useRef, useState, type ReactNode } from "react";
import { Alert, Button, Space, Typography } from "antd";
import { CheckOutlined } from "@ant-design/icons";
import Form from "@rjsf/antd";
import type { RJSFValidationError, RegistryFieldsType, RegistryWidgetsType } from "@rjsf/utils";
import { useTranslation } from "react-i18next";
import { AtriumClientWidget, AtriumUserWidget } from "./pickers";
import { ReadOnlyField } from "./ReadOnlyField";
import { formValidator } from "./formValidator";
import { prepareUiSchema, serverErrorSchema, writableData } from "./formSchema";
import type { JsonForm } from "./tasksApi";
import "./forms.css";

// Unknown formats (the pickers' atrium-user / atrium-client) pass here: the server checks that the
// person or client exists and may be chosen.
const validator = formValidator;

const widgets: RegistryWidgetsType = { atriumUser: AtriumUserWidget, atriumClient: AtriumClientWidget };
const fields: RegistryFieldsType = { readOnlyValue: ReadOnlyField };

export interface JsonSchemaFormProps {
  form: JsonForm;
  data: Record<string, any>;
  /** Called with the writable fields once the browser's checks pass; may reject with server field errors. */
  onSubmit: (data: Record<string, any>) => void;
  serverErrors?: Record<string, string[]> | null;
  busy?: boolean;
  disabled?: boolean;
  submitLabel: string;
  extraActions?: ReactNode;
  onChange?: (data: Record<string, any>) => void;
}

export function JsonSchemaForm({ form, data, onSubmit, serverErrors, busy, disabled, submitLabel, extraActions, onChange }: JsonSchemaFormProps) {
  const { t } = useTranslation("tasks");
  const [formData, setFormData] = useState<Record<string, any>>(data ?? {});
  const [localErrors, setLocalErrors] = useState<number>(0);
  const summaryRef = useRef<HTMLDivElement>(null);
  const uiSchema = useMemo(
    () => ({ ...prepareUiSchema(form.schema, form.ui_schema), "ui:submitButtonOptions": { norender: true } }),
    [form],
  );
  // The form's title and description are shown once, as the card's heading, not inside a fieldset.
  const { title, description, ...schema } = form.schema;
  const placed = useMemo(() => serverErrorSchema(form.schema, serverErrors ?? {}), [form.schema, serverErrors]);

  // The validator's English sentences become the reader's language; "must match then schema" says nothing to a person.
  const transformErrors = (errors: RJSFValidationError[]) =>
    errors
      .filter((error) => error.name !== "if")
      .map((error) => {
        const message = String(t(`errors.${error.name}`, { ...(error.params ?? {}), defaultValue: error.message ?? "" }));
        return { ...error, message, stack: message };
      });

  const showSummary = localErrors > 0 || (serverErrors && Object.keys(serverErrors).length > 0);
  return (
    <div className="json-form">
      {title && <Typography.Title level={2} className="json-form-title">{title}</Typography.Title>}
      {description && <Typography.Paragraph type="secondary">{description}</Typography.Paragraph>}
      {showSummary && (
        <div ref={summaryRef}>
          <Alert
            className="json-form-summary"
            type="error"
            showIcon
            role="alert"
            message={t("form.fixErrors")}
            description={placed.unplaced.length ? <ul>{placed.unplaced.map((text) => <li key={text}>{text}</li>)}</ul> : undefined}
          />
        </div>
      )}
      <Form
        schema={schema}
        uiSchema={uiSchema}
        formData={formData}
        validator={validator}
        widgets={widgets}
        fields={fields}
        disabled={disabled || busy}
        showErrorList={false}
        noHtml5Validate
        focusOnFirstError
        extraErrors={placed.errorSchema}
        transformErrors={transformErrors}
        onChange={(event) => {
          setFormData(event.formData);
          onChange?.(event.formData);
        }}
        onError={(errors) => setLocalErrors(errors.length)}
        onSubmit={(event) => {
          setLocalErrors(0);
          onSubmit(writableData(form.schema, event.formData));
        }}
      >
        <Space wrap className="json-form-actions">
          <Button type="primary" htmlType="submit" icon={<CheckOutlined aria-hidden />} loading={busy} disabled={disabled}>
            {submitLabel}
          </Button>
          {extraActions}
        </Space>
      </Form>
    </div>
  );
}
