import { Badge, Button } from "antd";
import { BellOutlined } from "@ant-design/icons";

/** Placeholder until the notifications screen lands (see notifications/). */
export function NotificationBell() {
  return (
    <Badge count={0} size="small">
      <Button type="text" icon={<BellOutlined aria-hidden />} aria-label="Notifications" />
    </Badge>
  );
}
