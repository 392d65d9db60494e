import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { RandomSource } from '../../common/random.js';
import { type AppCreationPolicy, Workspace } from './workspace.entity.js';
import { WorkspaceError } from './workspaces.errors.js';

export const DEFAULT_WORKSPACE_SLUG = 'default';

@Injectable()
export class WorkspacesService {
  constructor(
    @InjectRepository(Workspace) private readonly workspaces: Repository<Workspace>,
    private readonly random: RandomSource,
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

  async update(
    id: string,
    input: { name?: string; appCreation?: AppCreationPolicy },
  ): Promise<Workspace> {
    const workspace = await this.get(id);
    if (input.name !== undefined) workspace.name = input.name;
    if (input.appCreation !== undefined) workspace.appCreation = input.appCreation;
    return this.workspaces.save(workspace);
  }

  findBySlug(slug: string, manager?: EntityManager): Promise<Workspace | null> {
    return (manager?.getRepository(Workspace) ?? this.workspaces).findOneBy({ slug });
  }
}
