import { Button, Result } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

/** What a person sees when they open an action their role does not include. */
export function ForbiddenPage() {
  const { t } = useTranslation();
  return (
    <Result
      status="403"
      title={<h1 className="page-title">{t("forbiddenPage.title")}</h1>}
      subTitle={t("forbiddenPage.body")}
      extra={<Link to="/inbox"><Button type="primary">{t("forbiddenPage.home")}</Button></Link>}
    />
  );
}

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <Result
      status="404"
      title={<h1 className="page-title">{t("notFoundPage.title")}</h1>}
      subTitle={t("notFoundPage.body")}
      extra={<Link to="/inbox"><Button type="primary">{t("forbiddenPage.home")}</Button></Link>}
    />
  );
}
