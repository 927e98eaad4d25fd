import { Button } from "antd";
import { LeftOutlined, RightOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";

/** "Previous · Page 2 of 7 · Next": paging with plain buttons (antd's Pagination pulls in Select). */
export function Pager({ page, pageSize, total, onChange, label }: {
  page: number;
  pageSize: number;
  total: number;
  onChange: (page: number) => void;
  label: string;
}) {
  const { t } = useTranslation("inbox");
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (total <= pageSize && page === 1) return null;
  return (
    <nav className="pager" aria-label={label}>
      <Button icon={<LeftOutlined aria-hidden />} disabled={page <= 1} onClick={() => onChange(page - 1)}>
        {t("pager.previous")}
      </Button>
      <span className="pager-status" aria-live="polite">{t("pager.status", { page, pages })}</span>
      <Button disabled={page >= pages} onClick={() => onChange(page + 1)}>
        {t("pager.next")} <RightOutlined aria-hidden />
      </Button>
    </nav>
  );
}
