import { useEffect, useState } from "react";
import { AutoComplete, Alert, Button, Form, Input, Modal, Radio, Result, Select, Space, Spin, Typography, message } from "antd";
import { MinusCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, ProblemError, unwrap, type Problem } from "../api/client";
import { ProblemAlert } from "../ui/ProblemAlert";
import { MAIL_LANGUAGES, clientKeys, useClient, useUserChoices, type Client } from "./clientsApi";
import { DuplicateWarning } from "./DuplicateWarning";
import { applyFieldErrors } from "./fieldErrors";
import { KINDS, STATUSES, TIERS, label } from "./labels";
import "./clients.css";

const LIST_FIELDS = ["tags", "phones", "emails"];
const ADDRESS_PARTS = ["label", "street", "city", "region", "postcode", "country"] as const;

type Address = Partial<Record<(typeof ADDRESS_PARTS)[number], string>>;
interface FormValues {
  name: string;
  kind: string;
  tier: string;
  status: string;
  owner?: string;
  industry?: string;
  tags: string[];
  phones: string[];
  emails: string[];
  addresses: Address[];
  notes?: string;
  locale?: string | null;
}

function toForm(client?: Client): FormValues {
  return {
    name: client?.name ?? "",
    kind: client?.kind ?? "organisation",
    tier: client?.tier ?? "C",
    status: client?.status ?? "prospect",
    owner: client?.owner ?? undefined,
    industry: client?.industry ?? undefined,
    tags: client?.tags ?? [],
    phones: client?.phones ?? [],
    emails: client?.emails ?? [],
    addresses: (client?.addresses as Address[] | undefined) ?? [],
    notes: client?.notes ?? undefined,
    locale: client?.locale ?? null,
  };
}

/** What the API takes: blanks as null, empty address parts left out, empty addresses dropped. */
function toBody(values: FormValues): Record<string, unknown> {
  const blankToNull = (value?: string) => (value && value.trim() ? value.trim() : null);
  const addresses = (values.addresses ?? [])
    .map((address) => Object.fromEntries(Object.entries(address ?? {}).filter(([, part]) => part && String(part).trim())))
    .filter((address) => Object.keys(address).length > 0);
  return {
    name: values.name?.trim(),
    kind: values.kind,
    tier: values.tier,
    status: values.status,
    owner: blankToNull(values.owner),
    industry: blankToNull(values.industry),
    tags: values.tags ?? [],
    phones: values.phones ?? [],
    emails: values.emails ?? [],
    addresses,
    notes: blankToNull(values.notes),
    locale: values.locale ?? null,
  };
}

export default function ClientEditPage() {
  const { clientId } = useParams();
  const id = clientId === undefined ? undefined : Number(clientId);
  const editing = id !== undefined;
  const existing = useClient(editing ? id : NaN);
  if (editing && existing.isPending) return <div className="page-loading"><Spin /></div>;
  if (editing && existing.isError) return <ClientLoadProblem error={existing.error} onRetry={() => void existing.refetch()} />;
  return <ClientForm key={existing.data?.version ?? "new"} client={editing ? existing.data : undefined} onReload={() => void existing.refetch()} />;
}

function ClientLoadProblem({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const { t } = useTranslation("clients");
  if (error instanceof ProblemError && error.problem.status === 404) {
    return (
      <Result
        status="404"
        title={<h1 className="page-title">{t("page.notFoundTitle")}</h1>}
        subTitle={t("page.notFoundBody")}
        extra={<Link to="/clients"><Button type="primary">{t("page.backToList")}</Button></Link>}
      />
    );
  }
  return <ProblemAlert error={error} onRetry={onRetry} />;
}

function ClientForm({ client, onReload }: { client?: Client; onReload: () => void }) {
  const { t } = useTranslation("clients");
  const [form] = Form.useForm<FormValues>();
  const [modal, modalHolder] = Modal.useModal();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [ownerSearch, setOwnerSearch] = useState("");
  const owners = useUserChoices(ownerSearch, "account_manager");
  const [duplicate, setDuplicate] = useState<Problem | null>(null);
  const [conflict, setConflict] = useState(false);
  const [unplaced, setUnplaced] = useState<string[]>([]);

  useEffect(() => form.resetFields(), [client, form]);

  const save = useMutation({
    mutationFn: async ({ body, confirmDuplicate }: { body: Record<string, unknown>; confirmDuplicate: boolean }) => {
      if (client?.id !== undefined) {
        return unwrap(
          await api.PATCH("/api/clients/{client_id}", {
            params: { path: { client_id: client.id } },
            body: { ...body, expected_version: client.version } as never,
          }),
        );
      }
      return unwrap(
        await api.POST("/api/clients", { body: { ...body, ...(confirmDuplicate ? { confirm_duplicate: true } : {}) } as never }),
      );
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: clientKeys.all });
      void message.success(t(client ? "edit.saved" : "edit.created"));
      navigate(`/clients/${saved.id}`);
    },
    onError: (error) => {
      if (!(error instanceof ProblemError)) return;
      if (error.problem.status === 422) setUnplaced(applyFieldErrors(form, error.fieldErrors(), LIST_FIELDS));
      else if (error.problem.status === 409 && error.kind === "duplicate") setDuplicate(error.problem);
      else if (error.problem.status === 409) setConflict(true);
    },
  });

  const submit = (confirmDuplicate: boolean) => {
    setDuplicate(null);
    setConflict(false);
    setUnplaced([]);
    save.mutate({ body: toBody(form.getFieldsValue(true) as FormValues), confirmDuplicate });
  };

  const confirmAnyway = () =>
    void modal.confirm({
      title: t("edit.confirmDuplicateTitle"),
      content: t("edit.confirmDuplicateBody"),
      okText: t("edit.createAnyway"),
      cancelText: t("edit.cancel"),
      okButtonProps: { danger: true },
      onOk: () => submit(true),
    });

  const otherError =
    save.isError && save.error instanceof ProblemError && [409, 422].includes(save.error.problem.status) ? null : save.error;
  const title = client ? t("edit.editTitle", { name: client.name }) : t("edit.newTitle");

  return (
    <div className="client-form">
      {modalHolder}
      <Typography.Title level={1} className="page-title">{title}</Typography.Title>
      {duplicate && (
        <DuplicateWarning problem={duplicate} busy={save.isPending} onCreateAnyway={confirmAnyway} onCancel={() => setDuplicate(null)} />
      )}
      {conflict && (
        <Alert
          className="duplicate-alert"
          type="warning"
          showIcon
          role="alert"
          message={t("edit.conflictTitle")}
          description={t("edit.conflictBody")}
          action={<Button onClick={onReload}>{t("edit.reload")}</Button>}
        />
      )}
      {save.isError && save.error instanceof ProblemError && save.error.problem.status === 422 && (
        <Alert
          className="duplicate-alert"
          type="error"
          showIcon
          role="alert"
          message={t("edit.fixFields")}
          description={unplaced.length ? <ul>{unplaced.map((line) => <li key={line}>{line}</li>)}</ul> : undefined}
        />
      )}
      {otherError && <div className="duplicate-alert"><ProblemAlert error={otherError} /></div>}

      <Form<FormValues>
        form={form}
        layout="vertical"
        initialValues={toForm(client)}
        onFinish={() => submit(false)}
        onValuesChange={() => duplicate && setDuplicate(null)}
        scrollToFirstError
      >
        <Form.Item name="name" label={t("field.name")} rules={[{ required: true, whitespace: true, message: t("edit.nameRequired") }]}>
          <Input maxLength={300} autoFocus={!client} />
        </Form.Item>
        <div className="client-form-grid">
          <Form.Item name="kind" label={t("field.kind")}>
            <Radio.Group optionType="button" options={KINDS.map((kind) => ({ value: kind, label: label(t, "kind", kind) }))} />
          </Form.Item>
          <Form.Item name="tier" label={t("field.tier")}>
            <Select options={TIERS.map((tier) => ({ value: tier, label: label(t, "tier", tier) }))} />
          </Form.Item>
          <Form.Item name="status" label={t("field.status")}>
            <Select options={STATUSES.map((status) => ({ value: status, label: label(t, "status", status) }))} />
          </Form.Item>
          <Form.Item name="owner" label={t("field.owner")}>
            <AutoComplete
              allowClear
              placeholder={t("edit.ownerPlaceholder")}
              onSearch={setOwnerSearch}
              options={(owners.data ?? []).map((choice) => ({ value: choice.value, label: `${choice.label} (${choice.value})` }))}
            />
          </Form.Item>
          <Form.Item name="industry" label={t("field.industry")}>
            <Input maxLength={100} />
          </Form.Item>
          <Form.Item name="locale" label={t("mail.language")} extra={t("mail.languageHint")}>
            <Select
              options={[
                { value: null, label: t("mail.firmDefault") },
                ...MAIL_LANGUAGES.map((locale) => ({ value: locale, label: t(`mail.languages.${locale}`) })),
              ]}
            />
          </Form.Item>
          <Form.Item name="tags" label={t("field.tags")} extra={t("edit.typeToAdd")}>
            <Select mode="tags" tokenSeparators={[",", "，"]} open={false} suffixIcon={null} />
          </Form.Item>
          <Form.Item name="phones" label={t("field.phones")} extra={t("edit.typeToAdd")}>
            <Select mode="tags" tokenSeparators={[",", "，", ";"]} open={false} suffixIcon={null} />
          </Form.Item>
          <Form.Item name="emails" label={t("field.emails")} extra={t("edit.typeToAdd")}>
            <Select mode="tags" tokenSeparators={[",", "，", ";", " "]} open={false} suffixIcon={null} />
          </Form.Item>
        </div>

        <Form.List name="addresses">
          {(fields, { add, remove }) => (
            <fieldset>
              <legend className="ant-form-item-label">{t("field.addresses")}</legend>
              {fields.map((field, index) => (
                <div key={field.key} className="client-address" role="group" aria-label={t("edit.addressN", { n: index + 1 })}>
                  <div className="client-form-grid">
                    {ADDRESS_PARTS.map((part) => (
                      <Form.Item key={part} name={[field.name, part]} label={t(`field.address.${part}`)}>
                        <Input maxLength={part === "street" ? 300 : 100} />
                      </Form.Item>
                    ))}
                  </div>
                  <Button type="link" danger icon={<MinusCircleOutlined aria-hidden />} onClick={() => remove(field.name)}>
                    {t("edit.removeAddress")}
                  </Button>
                </div>
              ))}
              <Button type="dashed" icon={<PlusOutlined aria-hidden />} onClick={() => add({})} block>
                {t("edit.addAddress")}
              </Button>
            </fieldset>
          )}
        </Form.List>

        <Form.Item name="notes" label={t("field.notes")} style={{ marginTop: 16 }}>
          <Input.TextArea rows={4} maxLength={20000} />
        </Form.Item>
        <Space wrap>
          <Button type="primary" htmlType="submit" loading={save.isPending}>
            {client ? t("edit.save") : t("edit.create")}
          </Button>
          <Button onClick={() => navigate(client ? `/clients/${client.id}` : "/clients")}>{t("edit.cancel")}</Button>
        </Space>
      </Form>
    </div>
  );
}
