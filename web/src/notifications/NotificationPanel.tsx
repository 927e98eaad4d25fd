import { Button, Drawer, Empty, List, Popconfirm, Tag, Typography } from "antd";
import { CheckOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { ProblemAlert } from "../ui/ProblemAlert";
import { formatDateTime } from "../ui/format";
import "./notifications.css";
import { linkPath, useMarkRead, useUnreadNotifications, type MyNotification } from "./notificationsApi";

/** The unread notifications, each leading to its task or client; loaded only when the bell is opened. */
export default function NotificationPanel({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation("notifications");
  const unread = useUnreadNotifications();
  const { one, all } = useMarkRead();
  const items = unread.data?.items ?? [];
  const total = unread.data?.total ?? 0;

  const openLink = (note: MyNotification) => {
    one.mutate(note.id);
    onClose();
  };

  return (
    <Drawer
      open={open}
      onClose={onClose}
      title={t("title")}
      className="notification-panel"
      width="min(420px, 100vw)"
      extra={
        items.length > 0 && (
          <Popconfirm
            title={t("confirmAllTitle", { count: total })}
            okText={t("markAllRead")}
            cancelText={t("common:actions.cancel")}
            onConfirm={() => all.mutate()}
          >
            <Button size="small" icon={<CheckOutlined aria-hidden />} loading={all.isPending}>{t("markAllRead")}</Button>
          </Popconfirm>
        )
      }
    >
      {unread.isError && <ProblemAlert error={unread.error} onRetry={() => void unread.refetch()} />}
      <List
        loading={unread.isPending}
        aria-label={t("unread")}
        dataSource={items}
        locale={{
          emptyText: (
            <Empty
              image={Empty.PRESENTED_IMAGE_SIMPLE}
              description={
                <>
                  <div>{t("empty")}</div>
                  <Typography.Text type="secondary">{t("emptyHint")}</Typography.Text>
                </>
              }
            />
          ),
        }}
        renderItem={(note) => {
          const path = linkPath(note.link);
          return (
            <List.Item
              actions={[
                <Button
                  key="read"
                  type="text"
                  size="small"
                  icon={<CheckOutlined aria-hidden />}
                  aria-label={t("markReadNamed", { subject: note.subject })}
                  title={t("markRead")}
                  loading={one.isPending && one.variables === note.id}
                  onClick={() => one.mutate(note.id)}
                />,
              ]}
            >
              <List.Item.Meta
                title={
                  <>
                    <Tag>{t(`kinds.${note.kind}`, { defaultValue: note.kind })}</Tag>
                    {path ? <Link to={path} onClick={() => openLink(note)}>{note.subject}</Link> : note.subject}
                  </>
                }
                description={
                  <>
                    {note.body && <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ margin: 0 }}>{note.body}</Typography.Paragraph>}
                    <Typography.Text type="secondary">{formatDateTime(note.created_at)}</Typography.Text>
                  </>
                }
              />
            </List.Item>
          );
        }}
      />
      {total > items.length && <Typography.Text type="secondary">{t("more", { shown: items.length, total })}</Typography.Text>}
    </Drawer>
  );
}
