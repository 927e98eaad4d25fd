import { Segmented } from "antd";
import { useTranslation } from "react-i18next";
import { LANGUAGES, type Language } from "../i18n";
import { useLanguage } from "../i18n/useLanguage";
import { useSession } from "../auth/session";

/** 中文 / English, at any time; remembered on the account once signed in. */
export function LanguageSwitch() {
  const { t } = useTranslation();
  const { language, chooseLanguage } = useLanguage();
  const { user } = useSession();
  return (
    <Segmented<Language>
      aria-label={t("language.label")}
      size="small"
      value={language}
      onChange={(next) => void chooseLanguage(next, !!user)}
      options={LANGUAGES.map((option) => ({ value: option.code, label: <span lang={option.code}>{option.label}</span> }))}
    />
  );
}
