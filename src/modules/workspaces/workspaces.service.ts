import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { RandomSource } from '../../common/random.js';
import { EventsService } from '../events/events.service.js';
import { type AppCreationPolicy, Workspace } from './workspace.entity.js';
import { WorkspaceError } from './workspaces.errors.js';

export const DEFAULT_WORKSPACE_SLUG = 'default';

@Injectable()
export class WorkspacesService {
  constructor(
    @InjectRepository(Workspace) private readonly workspaces: Repository<Workspace>,
    private readonly random: RandomSource,
    private readonly events: EventsService,
  ) {}

  list(): Promise<Workspace[]> {
    return this.workspaces.find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<Workspace> {
    const found = await this.workspaces.findOneBy({ id });
    if (!found) throw WorkspaceError.notFound();
    return found;
  }

  async exists(id: string): Promise<boolean> {
    return this.workspaces.existsBy({ id });
  }

  async create(input: { slug: string; name: string }, manager?: EntityManager): Promise<Workspace> {
    const repo = manager?.getRepository(Workspace) ?? this.workspaces;
    if (await repo.existsBy({ slug: input.slug })) throw WorkspaceError.slugTaken(input.slug);
    const entity = repo.create({ id: this.random.uuid(), slug: input.slug, name: input.name });
    try {
      return await repo.save(entity);
    } catch (error) {
      // Lost a race with a concurrent create of the same slug.
      if ((error as { code?: string }).code === '23505') throw WorkspaceError.slugTaken(input.slug);
      throw error;
    }
  }

  /** Changes the name or who may create OAuth Apps, recording `workspace.updated` with what changed. */
  async update(
    id: string,
    input: { name?: string; appCreation?: AppCreationPolicy },
  ): Promise<Workspace> {
    return this.workspaces.manager.transaction(async (manager) => {
      const repo = manager.getRepository(Workspace);
      const workspace = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!workspace) throw WorkspaceError.notFound();
      const changed: Record<string, { from: string; to: string }> = {};
      if (input.name !== undefined && input.name !== workspace.name)
        changed.name = { from: workspace.name, to: input.name };
      if (input.appCreation !== undefined && input.appCreation !== workspace.appCreation)
        changed.appCreation = { from: workspace.appCreation, to: input.appCreation };
      if (!Object.keys(changed).length) return workspace;
      if (changed.name) workspace.name = input.name!;
      if (changed.appCreation) workspace.appCreation = input.appCreation!;
      const saved = await repo.save(workspace);
      await this.events.record(manager, {
        type: 'workspace.updated',
        workspaceId: id,
        subject: { kind: 'workspace', id },
        data: changed,
      });
      return saved;
    });
  }

  findBySlug(slug: string, manager?: EntityManager): Promise<Workspace | null> {
    return (manager?.getRepository(Workspace) ?? this.workspaces).findOneBy({ slug });
  }
}
