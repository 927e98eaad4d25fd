import { Button, Layout, Tooltip } from "antd";
import { DeleteOutlined, InboxOutlined, LogoutOutlined, PlayCircleOutlined, TeamOutlined, WarningOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { NavLink, Outlet } from "react-router-dom";
import { useSession } from "../auth/session";
import { LanguageSwitch } from "./LanguageSwitch";
import { NotificationBell } from "../notifications/NotificationBell";

// Plain links rather than antd's Menu: the frame ships with every screen, and Menu (with its
// popups) would cost a sixth of the first screen's JavaScript budget.
function NavItem({ to, icon, label }: { to: string; icon: React.ReactNode; label: string }) {
  return (
    <NavLink to={to} className={({ isActive }) => "app-nav-link" + (isActive ? " active" : "")}>
      {icon}
      <span className="app-nav-label">{label}</span>
    </NavLink>
  );
}

/** The frame of every signed-in screen: where to work (inbox, start, clients) and who you are. */
export function AppLayout() {
  const { t } = useTranslation();
  const { user, logout, can } = useSession();
  const name = user?.display_name || user?.username || "";
  return (
    <Layout className="app-layout">
      <a className="skip-link" href="#main">{t("app.skipToContent")}</a>
      <Layout.Header className="app-header">
        <NavLink to="/inbox" className="app-brand" aria-label={t("app.name")}>
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span className="app-brand-name">{t("app.name")}</span>
        </NavLink>
        <nav aria-label={t("nav.menu")} className="app-nav">
          <NavItem to="/inbox" icon={<InboxOutlined aria-hidden />} label={t("nav.inbox")} />
          {can("instances:start") && <NavItem to="/start" icon={<PlayCircleOutlined aria-hidden />} label={t("nav.start")} />}
          <NavItem to="/clients" icon={<TeamOutlined aria-hidden />} label={t("nav.clients")} />
          {can("reports:read") && <NavItem to="/at-risk" icon={<WarningOutlined aria-hidden />} label={t("health:nav")} />}
          {can("clients:erase") && <NavItem to="/erasures" icon={<DeleteOutlined aria-hidden />} label={t("nav.erasures")} />}
        </nav>
        <div className="app-tools">
          <LanguageSwitch />
          <NotificationBell />
          <Tooltip title={t("user.roles", { roles: user?.roles.join(", ") })}>
            {/* the person's own page: for now, changing the password */}
            <NavLink to="/password" className="app-user-name" aria-label={t("user.password", { name })}>{name}</NavLink>
          </Tooltip>
          <Button type="text" icon={<LogoutOutlined aria-hidden />} onClick={() => void logout()}>
            <span className="app-nav-label">{t("user.logout")}</span>
          </Button>
        </div>
      </Layout.Header>
      <Layout.Content className="app-content" id="main" tabIndex={-1}>
        <Outlet />
      </Layout.Content>
    </Layout>
  );
}
