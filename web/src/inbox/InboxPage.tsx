import { Typography } from "antd";
import { useTranslation } from "react-i18next";

/** Being built: the inbox lands with its feature (issue 11). */
export function InboxPage() {
  const { t } = useTranslation();
  return <Typography.Title level={1} className="page-title">{t("nav.inbox")}</Typography.Title>;
}
