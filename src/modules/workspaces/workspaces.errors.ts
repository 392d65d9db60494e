import { DomainError } from '../../common/errors/domain-error.js';

export class WorkspaceError extends DomainError {
  static notFound(): WorkspaceError {
    return new WorkspaceError('workspace.not_found', 'not_found', 'No such workspace.');
  }
  static slugTaken(slug: string): WorkspaceError {
    return new WorkspaceError(
      'workspace.slug_taken',
      'conflict',
      `A workspace with slug "${slug}" already exists.`,
    );
  }
}
