// One catalogue per language, one file per screen inside it (i18n/<lang>/<namespace>.json), so
// adding a language is adding a folder. English is the fallback: a missing translation shows
// English, never a key.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "中文" },
] as const;
export type Language = (typeof LANGUAGES)[number]["code"];

const files = import.meta.glob<{ default: Record<string, unknown> }>("./*/*.json", { eager: true });
const resources: Record<string, Record<string, Record<string, unknown>>> = {};
for (const [path, module] of Object.entries(files)) {
  const [, language, file] = path.match(/^\.\/([^/]+)\/([^/]+)\.json$/)!;
  (resources[language] ??= {})[file] = module.default;
}

/** The supported language closest to what the browser asks for (its Accept-Language). */
export function languageFromBrowser(preferred: readonly string[] = navigator.languages ?? [navigator.language]): Language {
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

export function isLanguage(value: unknown): value is Language {
  return LANGUAGES.some((language) => language.code === value);
}

void i18n.use(initReactI18next).init({
  resources,
  lng: languageFromBrowser(),
  fallbackLng: "en",
  supportedLngs: LANGUAGES.map((language) => language.code),
  ns: Object.keys(resources.en ?? {}),
  defaultNS: "common",
  fallbackNS: "common",
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
});

export default i18n;
