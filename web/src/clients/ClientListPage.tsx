import { NotFoundPage } from "../ui/ForbiddenPage";

/** Being built: the screen lands with its feature (issue 11). */
export default function ClientListPage() {
  return <NotFoundPage />;
}
