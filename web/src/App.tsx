import { lazy, Suspense, type ReactNode } from "react";
import { ConfigProvider, Spin } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useSession } from "./auth/session";
import { AppLayout } from "./ui/AppLayout";
import { NotFoundPage } from "./ui/ForbiddenPage";
import { RequirePermission } from "./ui/RequirePermission";
import { InboxPage } from "./inbox/InboxPage";

// The inbox is the first screen and ships in the main bundle; the rest load when opened
// (README: the first screen's JavaScript stays under the budget `make bench` prints).
// The login page too: a signed-in person reloading the inbox never needs its form.
const LoginPage = lazy(() => import("./auth/LoginPage"));
const ChangePasswordPage = lazy(() => import("./auth/ChangePasswordPage"));
const SecondFactorPage = lazy(() => import("./auth/SecondFactorPage"));
const TaskPage = lazy(() => import("./tasks/TaskPage"));
const StartPage = lazy(() => import("./start/StartPage"));
const StartFormPage = lazy(() => import("./start/StartFormPage"));
const ClientListPage = lazy(() => import("./clients/ClientListPage"));
const ClientPage = lazy(() => import("./clients/ClientPage"));
const ClientEditPage = lazy(() => import("./clients/ClientEditPage"));
const ErasuresPage = lazy(() => import("./erasures/ErasuresPage"));
const AtRiskPage = lazy(() => import("./health/AtRiskPage"));
// A client's contact answering a survey from a mailed link: public, outside the signed-in layout.
const SurveyPage = lazy(() => import("./survey/SurveyPage"));

function Loading() {
  const { t } = useTranslation();
  return <div className="page-loading"><Spin tip={t("state.loading")}><div /></Spin></div>;
}

function SignedIn({ children }: { children: ReactNode }) {
  const { user, loading } = useSession();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  // After an administrator's reset nothing else is open until the password is changed.
  if (user.password_change_required) return <main id="main" className="login-page"><ChangePasswordPage /></main>;
  // A role that requires a second factor: nothing else is open until one is added.
  if (user.totp_required && !user.totp_enabled) return <main id="main" className="login-page"><SecondFactorPage /></main>;
  return <>{children}</>;
}

export function App() {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider
      locale={i18n.language === "zh-CN" ? zhCN : enUS}
      theme={{ token: { colorPrimary: "#1f5fbf", borderRadius: 6 } }}
    >
      <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/survey/:token" element={<SurveyPage />} />
            <Route element={<SignedIn><AppLayout /></SignedIn>}>
              <Route index element={<Navigate to="/inbox" replace />} />
              <Route path="inbox" element={<InboxPage />} />
              <Route path="password" element={<ChangePasswordPage />} />
              <Route path="second-factor" element={<SecondFactorPage />} />
              <Route path="tasks/:taskId" element={<TaskPage />} />
              <Route path="start" element={<RequirePermission permission="instances:start"><StartPage /></RequirePermission>} />
              <Route path="start/:processKey" element={<RequirePermission permission="instances:start"><StartFormPage /></RequirePermission>} />
              <Route path="clients" element={<ClientListPage />} />
              <Route path="clients/new" element={<RequirePermission permission="clients:write"><ClientEditPage /></RequirePermission>} />
              <Route path="clients/:clientId" element={<ClientPage />} />
              <Route path="clients/:clientId/edit" element={<RequirePermission permission="clients:write"><ClientEditPage /></RequirePermission>} />
              <Route path="at-risk" element={<RequirePermission permission="reports:read"><AtRiskPage /></RequirePermission>} />
              <Route path="erasures" element={<RequirePermission permission="clients:erase"><ErasuresPage /></RequirePermission>} />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </Suspense>
    </ConfigProvider>
  );
}
