import { lazy, Suspense, useState } from "react";
import { Badge, Button } from "antd";
import { BellOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { useSession } from "../auth/session";
import { useUnreadCount } from "./notificationsApi";

// The bell ships with every screen, so only the badge is here; the list loads when first opened.
const NotificationPanel = lazy(() => import("./NotificationPanel"));

/** The header's bell: how many unread notifications, and (on click) the list of them. */
export function NotificationBell() {
  const { t } = useTranslation("notifications");
  const { user, can } = useSession();
  const allowed = !!user && can("notifications:read");
  const count = useUnreadCount(allowed).data ?? 0;
  const [open, setOpen] = useState(false);
  const [opened, setOpened] = useState(false);
  if (!allowed) return null;
  return (
    <>
      <Badge count={count} size="small" overflowCount={99}>
        <Button
          type="text"
          icon={<BellOutlined aria-hidden />}
          aria-label={count ? t("bellUnread", { count }) : t("bell")}
          aria-haspopup="dialog"
          aria-expanded={open}
          onClick={() => {
            setOpened(true);
            setOpen(true);
          }}
        />
      </Badge>
      {opened && (
        <Suspense fallback={null}>
          <NotificationPanel open={open} onClose={() => setOpen(false)} />
        </Suspense>
      )}
    </>
  );
}
