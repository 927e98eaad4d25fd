// Switching language: the catalogue, dates in pickers, the page's lang attribute, and (for a
// signed-in person) the preference kept on their account.
import { useCallback } from "react";
import { useTranslation } from "react-i18next";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { api } from "../api/client";
import type { Language } from "./index";

const DAYJS_LOCALE: Record<Language, string> = { en: "en", "zh-CN": "zh-cn" };

export function useLanguage() {
  const { i18n } = useTranslation();

  const applyLanguage = useCallback(
    (language: Language) => {
      if (i18n.language !== language) void i18n.changeLanguage(language);
      dayjs.locale(DAYJS_LOCALE[language]);
      document.documentElement.lang = language;
    },
    [i18n],
  );

  /** The person picked a language: show it now and remember it on their account. */
  const chooseLanguage = useCallback(
    async (language: Language, signedIn: boolean) => {
      applyLanguage(language);
      if (signedIn) {
        await api.PATCH("/api/me", { body: { locale: language } });
      }
    },
    [applyLanguage],
  );

  return { language: i18n.language as Language, applyLanguage, chooseLanguage };
}
